// Package webhook receives push webhooks from GitHub, GitLab and any CI (a
// small generic JSON form) and tells the agents that follow the pushed
// branch, so they fetch within a second instead of on their next poll.
//
// A webhook is a hint, never the record: the notice only makes an agent
// fetch now, and the agent decides from Git what changed. So a push that
// matches too much costs one fetch, and one that is lost costs at most a
// polling interval. Every request is authenticated with the one shared
// secret before its payload is looked at; with no secret configured the
// endpoints answer 404 and accept nothing.
package webhook

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ferrycd/ferry/internal/hub"
	"github.com/ferrycd/ferry/internal/model"
	"github.com/ferrycd/ferry/internal/store"
)

// DefaultMaxBodyBytes bounds a webhook body when Options.MaxBodyBytes is
// zero. GitHub caps its payloads at 25 MB but pushes with a few hundred
// commits stay well under a megabyte.
const DefaultMaxBodyBytes = 5 << 20

// bodyReadTimeout bounds how long a webhook body may take to arrive.
const bodyReadTimeout = 30 * time.Second

// Agents lists the registered agents with their repositories.
// store.Store implements it.
type Agents interface {
	ListAgents(ctx context.Context, f store.AgentFilter) ([]*model.Agent, error)
}

// Publisher delivers an item to the streams an agent holds open on every
// replica; an error means other replicas may not have received it. A
// hub.Bus implements it.
type Publisher interface {
	Publish(ctx context.Context, agentID string, it hub.Item) error
}

// Options configures a Receiver.
type Options struct {
	// Secret authenticates every webhook: the HMAC key of GitHub's
	// signature, GitLab's token and the generic bearer token. Empty turns
	// the endpoints off (404).
	Secret string
	// Agents is where the routing finds who follows a repository.
	Agents Agents
	// Hub delivers the notices, to every replica.
	Hub Publisher
	// Logger receives one line per refused or routed push; default
	// slog.Default(). Secrets and payloads are never logged.
	Logger *slog.Logger
	// Registerer, when set, receives ferry_webhook_pushes_total.
	Registerer prometheus.Registerer
	// MaxBodyBytes bounds a request body; default DefaultMaxBodyBytes.
	MaxBodyBytes int64
}

// Receiver serves the webhook endpoints. Its handlers are safe for
// concurrent use.
type Receiver struct {
	secret  []byte
	agents  Agents
	hub     Publisher
	logger  *slog.Logger
	maxBody int64
	pushes  *prometheus.CounterVec
}

// New returns a Receiver; it registers its metric on opts.Registerer.
func New(opts Options) *Receiver {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = DefaultMaxBodyBytes
	}
	r := &Receiver{
		secret:  []byte(opts.Secret),
		agents:  opts.Agents,
		hub:     opts.Hub,
		logger:  opts.Logger,
		maxBody: opts.MaxBodyBytes,
		pushes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ferry_webhook_pushes_total",
			Help: "Webhook requests received, by provider and result (matched, unmatched, ignored, unauthorized, invalid, too_large, unconfigured, error).",
		}, []string{"provider", "result"}),
	}
	if opts.Registerer != nil {
		opts.Registerer.MustRegister(r.pushes)
	}
	return r
}

// GitHub returns the handler for POST /webhooks/github: push and ping
// events, signed with X-Hub-Signature-256.
func (r *Receiver) GitHub() http.Handler { return r.handler(github) }

// GitLab returns the handler for POST /webhooks/gitlab: Push Hook events,
// authenticated by X-Gitlab-Token.
func (r *Receiver) GitLab() http.Handler { return r.handler(gitlab) }

// Generic returns the handler for POST /webhooks/generic: a JSON body
// {"repository", "branch", "commit"} with a bearer token or a GitHub-style
// signature.
func (r *Receiver) Generic() http.Handler { return r.handler(generic) }

// The results recorded in ferry_webhook_pushes_total.
const (
	resultMatched      = "matched"
	resultUnmatched    = "unmatched"
	resultIgnored      = "ignored"
	resultUnauthorized = "unauthorized"
	resultInvalid      = "invalid"
	resultTooLarge     = "too_large"
	resultUnconfigured = "unconfigured"
	resultError        = "error"
)

// reply is a request's answer: its status, metric result and JSON body.
type reply struct {
	status int
	result string
	body   map[string]any
}

func refuse(status int, result, msg string) reply {
	return reply{status: status, result: result, body: map[string]any{"error": msg}}
}

func ignore(reason string) reply {
	return reply{status: http.StatusAccepted, result: resultIgnored, body: map[string]any{"ignored": reason}}
}

// handler runs one provider's request through the same steps: configured,
// bounded read, authenticate, parse, route.
func (r *Receiver) handler(p provider) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		rep := r.receive(w, req, p)
		r.pushes.WithLabelValues(p.name, rep.result).Inc()
		if rep.status >= http.StatusBadRequest && rep.result != resultUnconfigured {
			r.logger.WarnContext(req.Context(), "webhook refused", "provider", p.name, "status", rep.status,
				"reason", rep.body["error"], "remote_addr", req.RemoteAddr)
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(rep.status)
		_ = json.NewEncoder(w).Encode(rep.body)
	})
}

func (r *Receiver) receive(w http.ResponseWriter, req *http.Request, p provider) reply {
	if len(r.secret) == 0 {
		return refuse(http.StatusNotFound, resultUnconfigured, "webhooks are not configured")
	}
	// The server bounds only the headers' read time; a body trickled in
	// slowly must not hold a connection open.
	_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(bodyReadTimeout))
	body, err := io.ReadAll(http.MaxBytesReader(w, req.Body, r.maxBody))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return refuse(http.StatusRequestEntityTooLarge, resultTooLarge, "body is larger than the limit")
		}
		return refuse(http.StatusBadRequest, resultInvalid, "read body: "+err.Error())
	}
	if err := p.authenticate(req.Header, body, r.secret); err != nil {
		return refuse(http.StatusUnauthorized, resultUnauthorized, err.Error())
	}
	ev, rep := p.parse(req.Header, body)
	if ev == nil {
		return rep
	}
	return r.route(req.Context(), p.name, ev)
}
