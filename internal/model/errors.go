package model

import (
	"errors"
	"fmt"
)

// ErrorKind classifies an error so every layer can react to it without
// string matching: the API maps it to a Connect code in one place, the agent
// decides from it whether to retry.
type ErrorKind int

// The error kinds. KindInternal is the zero value so an unclassified error is
// never mistaken for a user mistake.
const (
	KindInternal ErrorKind = iota
	KindNotFound
	KindInvalid
	KindConflict
	KindAlreadyExists
	KindUnauthenticated
	KindPermissionDenied
	KindUnavailable
	KindFailedPrecondition
	KindResourceExhausted
)

var kindNames = map[ErrorKind]string{
	KindInternal:           "internal",
	KindNotFound:           "not found",
	KindInvalid:            "invalid",
	KindConflict:           "conflict",
	KindAlreadyExists:      "already exists",
	KindUnauthenticated:    "unauthenticated",
	KindPermissionDenied:   "permission denied",
	KindUnavailable:        "unavailable",
	KindFailedPrecondition: "failed precondition",
	KindResourceExhausted:  "resource exhausted",
}

// String returns the kind's lowercase name.
func (k ErrorKind) String() string {
	if s, ok := kindNames[k]; ok {
		return s
	}
	return fmt.Sprintf("kind(%d)", int(k))
}

// Retryable reports whether an operation failing with this kind may succeed
// when tried again unchanged.
func (k ErrorKind) Retryable() bool {
	return k == KindUnavailable || k == KindConflict
}

// Error is an error with a kind and a message meant for the person who caused
// it. The wrapped error, if any, carries detail for logs.
type Error struct {
	Kind    ErrorKind
	Message string
	Err     error
}

// Error implements error.
// The message already includes the wrapped error's text when Errorf built it.
func (e *Error) Error() string {
	switch {
	case e.Message != "":
		return e.Message
	case e.Err != nil:
		return e.Err.Error()
	default:
		return e.Kind.String()
	}
}

// Unwrap returns the wrapped error.
func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an *Error of the given kind with a formatted message. A %w
// verb wraps as fmt.Errorf does.
func Errorf(kind ErrorKind, format string, args ...any) error {
	err := fmt.Errorf(format, args...)
	return &Error{Kind: kind, Message: err.Error(), Err: errors.Unwrap(err)}
}

// NotFound returns a KindNotFound error naming what was looked for.
func NotFound(what, id string) error {
	return &Error{Kind: KindNotFound, Message: fmt.Sprintf("%s %q not found", what, id)}
}

// Invalid returns a KindInvalid error with a formatted message.
func Invalid(format string, args ...any) error {
	return Errorf(KindInvalid, format, args...)
}

// KindOf returns the kind of the first *Error in err's chain, or KindInternal.
func KindOf(err error) ErrorKind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return KindInternal
}

// IsKind reports whether err's kind is k.
func IsKind(err error, k ErrorKind) bool {
	return err != nil && KindOf(err) == k
}
