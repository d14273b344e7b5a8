package hub

import (
	"encoding/json"
	"errors"
	"fmt"
)

// MaxPayload bounds an encoded message. PostgreSQL refuses NOTIFY payloads
// of 8000 bytes or more; a message is a few ids and a branch name, so half
// of that leaves room and still refuses nothing real.
const MaxPayload = 4000

// wireVersion is the version of the message format. Replicas of different
// versions run side by side during a rolling upgrade, so fields are only
// ever added; a replica ignores fields, notice kinds and change kinds it
// does not know. Version 2 added changes ("ch").
const wireVersion = 2

// changesAgent is the agent a message of changes names. No agent has this
// id (ids are generated, never "-"), so a replica of version 1, which
// requires an agent and knows nothing of changes, counts such a message as
// one for an agent without a stream here and drops it quietly.
const changesAgent = "-"

// message is one item on its way between replicas. It carries ids and Git
// coordinates only: a command travels as its id (the receiving replica
// reads it from the datastore), so nothing a user typed beyond a branch
// name, and no secret, crosses the broker.
type message struct {
	Version int    `json:"v"`
	Origin  string `json:"o"`
	AgentID string `json:"a"`
	// CommandID is set for a queued command.
	CommandID string `json:"c,omitempty"`
	// Recheck asks the agent's streams to re-read their commands.
	Recheck bool        `json:"r,omitempty"`
	Notice  *wireNotice `json:"n,omitempty"`
	// Changes, in a message of their own, tell the console's streams what
	// was stored; such a message names the agent changesAgent.
	Changes []wireChange `json:"ch,omitempty"`
}

// wireChange is a Change with its kinds by name.
type wireChange struct {
	ProjectID     string   `json:"p"`
	ApplicationID string   `json:"app,omitempty"`
	DeploymentID  string   `json:"d,omitempty"`
	What          []string `json:"w"`
}

// wireNotice is a Notice with its kind by name, so that replicas built
// with a different NoticeKind numbering still agree.
type wireNotice struct {
	Kind         string `json:"k"`
	RepositoryID string `json:"repo,omitempty"`
	Branch       string `json:"branch,omitempty"`
	CommitHash   string `json:"commit,omitempty"`
}

// noticeNames names each NoticeKind on the wire.
var noticeNames = map[NoticeKind]string{
	NoticeRepositoryPushed:    "repository_pushed",
	NoticeApplicationsChanged: "applications_changed",
}

// encode returns the message for it, sent by origin to agentID's streams.
func encode(origin, agentID string, it Item) ([]byte, error) {
	m := message{Version: wireVersion, Origin: origin, AgentID: agentID, Recheck: it.Recheck}
	switch {
	case it.Command != nil:
		m.CommandID = it.Command.ID
	case it.Notice != nil:
		name, ok := noticeNames[it.Notice.Kind]
		if !ok {
			return nil, fmt.Errorf("encode notice: unknown kind %d", it.Notice.Kind)
		}
		m.Notice = &wireNotice{Kind: name, RepositoryID: it.Notice.RepositoryID, Branch: it.Notice.Branch, CommitHash: it.Notice.CommitHash}
	case !it.Recheck:
		return nil, errors.New("encode: the item is empty")
	}
	data, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("encode: %w", err)
	}
	if len(data) > MaxPayload {
		return nil, fmt.Errorf("encode: the message is %d bytes, more than the %d a broker is sure to carry", len(data), MaxPayload)
	}
	return data, nil
}

// encodeChanges returns the messages that carry cs, sent by origin: as few
// as fit, each within MaxPayload. A change too large for a message alone
// (ids are short, so never in practice) is left out and reported.
func encodeChanges(origin string, cs []Change) ([][]byte, error) {
	empty, err := json.Marshal(message{Version: wireVersion, Origin: origin, AgentID: changesAgent})
	if err != nil {
		return nil, fmt.Errorf("encode changes: %w", err)
	}
	envelope := len(empty) + len(`,"ch":[]`)
	var (
		out   [][]byte
		batch []wireChange
		size  = envelope
		errs  []error
	)
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		data, err := json.Marshal(message{Version: wireVersion, Origin: origin, AgentID: changesAgent, Changes: batch})
		if err != nil {
			return fmt.Errorf("encode changes: %w", err)
		}
		out, batch, size = append(out, data), nil, envelope
		return nil
	}
	for _, c := range cs {
		wc := wireChange{ProjectID: c.ProjectID, ApplicationID: c.ApplicationID, DeploymentID: c.DeploymentID, What: c.What.names()}
		one, err := json.Marshal(wc)
		if err != nil {
			return nil, fmt.Errorf("encode changes: %w", err)
		}
		if envelope+len(one) > MaxPayload {
			errs = append(errs, fmt.Errorf("encode changes: a change of project %s is %d bytes, more than a message may carry", c.ProjectID, len(one)))
			continue
		}
		// One comma before every change but the first.
		if size+len(one)+1 > MaxPayload {
			if err := flush(); err != nil {
				return nil, err
			}
		}
		batch = append(batch, wc)
		size += len(one) + 1
	}
	if err := flush(); err != nil {
		return nil, err
	}
	return out, errors.Join(errs...)
}

// changes returns the changes m carries, leaving out those of kinds this
// replica does not know, and how many it left out.
func (m *message) changes() (cs []Change, unknown int) {
	for _, wc := range m.Changes {
		what := changeKindOf(wc.What)
		if what == 0 || wc.ProjectID == "" {
			unknown++
			continue
		}
		cs = append(cs, Change{ProjectID: wc.ProjectID, ApplicationID: wc.ApplicationID, DeploymentID: wc.DeploymentID, What: what})
	}
	return cs, unknown
}

// decode parses a message, refusing one without an origin, or without an
// agent unless it carries changes.
func decode(payload []byte) (*message, error) {
	var m message
	if err := json.Unmarshal(payload, &m); err != nil {
		return nil, fmt.Errorf("decode: %w", err)
	}
	if m.Origin == "" || (m.AgentID == "" && len(m.Changes) == 0) {
		return nil, errors.New("decode: the message names no origin or no agent")
	}
	return &m, nil
}

// item returns what the local streams receive for m; ok is false for a
// notice kind this replica does not know.
func (m *message) item() (it Item, ok bool) {
	switch {
	case m.Notice != nil:
		for kind, name := range noticeNames {
			if name == m.Notice.Kind {
				return Item{Notice: &Notice{Kind: kind, RepositoryID: m.Notice.RepositoryID, Branch: m.Notice.Branch, CommitHash: m.Notice.CommitHash}}, true
			}
		}
		return Item{}, false
	case m.CommandID != "", m.Recheck:
		return Item{Recheck: true}, true
	}
	return Item{}, false
}
