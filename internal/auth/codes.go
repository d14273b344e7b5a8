package auth

import (
	"connectrpc.com/connect"

	"github.com/ferrycd/ferry/internal/model"
)

var kindCodes = map[model.ErrorKind]connect.Code{
	model.KindNotFound:           connect.CodeNotFound,
	model.KindInvalid:            connect.CodeInvalidArgument,
	model.KindConflict:           connect.CodeAborted,
	model.KindAlreadyExists:      connect.CodeAlreadyExists,
	model.KindUnauthenticated:    connect.CodeUnauthenticated,
	model.KindPermissionDenied:   connect.CodePermissionDenied,
	model.KindUnavailable:        connect.CodeUnavailable,
	model.KindFailedPrecondition: connect.CodeFailedPrecondition,
	model.KindResourceExhausted:  connect.CodeResourceExhausted,
}

// CodeOf is the Connect code of an error kind, the one mapping of kinds to
// codes: the API answers with it and the console turns it into an HTTP
// status. False for kinds that are internal errors.
func CodeOf(k model.ErrorKind) (connect.Code, bool) {
	c, ok := kindCodes[k]
	return c, ok
}
