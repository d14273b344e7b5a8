// Package model holds Ferry's domain types: projects, agents, applications,
// deployments with their stages, commands, events, API keys and live state.
//
// It is the bottom layer of the tree and imports nothing of Ferry's own, so
// the store, the server, the agent and the CLI can all share it. The API's
// protobuf types are translated to and from these at the edge (server/api).
package model
