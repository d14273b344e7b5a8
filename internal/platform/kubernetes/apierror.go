package kubernetes

import (
	"encoding/base64"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// refusal is an API server's refusal of an object, told from its Status:
// the reason, the server's message, and each cause's field and why, so a
// stage's reason says what to fix rather than "an error on the server".
// The StatusError stays in the chain for apierrors.IsInvalid and the like.
type refusal struct {
	err    *apierrors.StatusError
	status metav1.Status
	// hints are what Ferry found wrong in the object where the server
	// names no field (a Secret's data that is not base64).
	hints []string
}

func (e *refusal) Error() string {
	s := e.status
	var b strings.Builder
	b.WriteString("refused by the API server")
	switch {
	case s.Reason != "":
		fmt.Fprintf(&b, " (%s)", s.Reason)
	case s.Code != 0:
		fmt.Fprintf(&b, " (HTTP %d)", s.Code)
	}
	msg := strings.TrimSpace(s.Message)
	if msg != "" {
		b.WriteString(": ")
		b.WriteString(msg)
	}
	// The message lists the causes of most refusals; add those it leaves
	// out, with their field.
	if s.Details != nil {
		for _, c := range s.Details.Causes {
			line := c.Message
			if c.Field != "" {
				line = c.Field + ": " + c.Message
			}
			if line == "" || strings.Contains(msg, line) || strings.Contains(msg, c.Message) && (c.Field == "" || strings.Contains(msg, c.Field)) {
				continue
			}
			b.WriteString("; ")
			b.WriteString(line)
		}
	}
	for _, h := range e.hints {
		b.WriteString("; ")
		b.WriteString(h)
	}
	return b.String()
}

func (e *refusal) Unwrap() error { return e.err }

// explainAPIError returns err, the API server's answer to sending obj, as
// a refusal when it carries the server's Status, else as it is.
func explainAPIError(obj *unstructured.Unstructured, err error) error {
	var se *apierrors.StatusError
	if err == nil || !errors.As(err, &se) {
		return err
	}
	if se.ErrStatus.Reason == metav1.StatusReasonUnknown && se.ErrStatus.Message == "" {
		return err
	}
	r := &refusal{err: se, status: se.ErrStatus}
	if isSecret(obj.Object) {
		r.hints = secretDataHints(obj)
	}
	return r
}

// secretDataHints names the keys of a Secret's data that are not base64,
// which the API server refuses without naming them (its message says
// "illegal base64 data at input byte N" only, as a failed conversion).
// The values are not shown.
func secretDataHints(obj *unstructured.Unstructured) []string {
	data, _, _ := unstructured.NestedMap(obj.Object, "data")
	var out []string
	for _, k := range slices.Sorted(maps.Keys(data)) {
		v, ok := data[k].(string)
		if !ok {
			out = append(out, fmt.Sprintf("data.%s is not a string", k))
			continue
		}
		if _, err := base64.StdEncoding.DecodeString(v); err != nil {
			out = append(out, fmt.Sprintf("data.%s is not base64 (a Secret's data holds base64; put plain text in stringData)", k))
		}
	}
	return out
}
