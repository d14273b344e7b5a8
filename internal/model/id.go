package model

import "github.com/google/uuid"

// NewID returns a new object id: a UUIDv7, so ids sort by creation time.
func NewID() string { return uuid.Must(uuid.NewV7()).String() }
