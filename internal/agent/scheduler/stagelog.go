package scheduler

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"connectrpc.com/connect"

	ferryv1 "github.com/ferrycd/ferry/api/gen/ferry/v1"
	"github.com/ferrycd/ferry/internal/agent/controlplane"
	"github.com/ferrycd/ferry/internal/model"
	"github.com/ferrycd/ferry/internal/platform"
)

// logFlushInterval bounds how long a log line waits before it is sent.
const logFlushInterval = 100 * time.Millisecond

// maxBlocksPerCall is the most log blocks one ReportStageLogs call may
// carry (the control plane refuses more).
const maxBlocksPerCall = 1000

// finalFlushTimeout bounds the last send when a stage's log closes.
const finalFlushTimeout = 10 * time.Second

// stageLog sends a stage's log lines to the control plane in batches, in
// the background, so a stage never waits on the network to log. Block
// indexes start from the time the log was opened, so the lines of a stage
// resumed after an agent restart sort after the earlier ones, and a batch
// sent twice is stored once.
type stageLog struct {
	client       *controlplane.Client
	logger       *slog.Logger
	deploymentID string
	stageID      string

	mu      sync.Mutex
	next    int64
	pending []*ferryv1.LogBlock
	kick    chan struct{}
	done    chan struct{}
	stop    context.CancelFunc
}

var _ platform.Logger = (*stageLog)(nil)

func openStageLog(client *controlplane.Client, logger *slog.Logger, deploymentID, stageID string) *stageLog {
	ctx, cancel := context.WithCancel(context.Background())
	l := &stageLog{
		client: client, logger: logger, deploymentID: deploymentID, stageID: stageID,
		next: time.Now().UnixMicro(), kick: make(chan struct{}, 1), done: make(chan struct{}), stop: cancel,
	}
	go l.loop(ctx)
	return l
}

func (l *stageLog) Info(msg string)    { l.add(msg, ferryv1.LogSeverity_LOG_SEVERITY_INFO) }
func (l *stageLog) Success(msg string) { l.add(msg, ferryv1.LogSeverity_LOG_SEVERITY_SUCCESS) }
func (l *stageLog) Error(msg string)   { l.add(msg, ferryv1.LogSeverity_LOG_SEVERITY_ERROR) }

// add queues msg, split into blocks the control plane takes
// (model.MaxLogBlockBytes each, cut between UTF-8 characters). Bytes that
// are not UTF-8 become U+FFFD: the API carries text only, and one bad
// line would otherwise sink its whole batch.
func (l *stageLog) add(msg string, sev ferryv1.LogSeverity) {
	msg = strings.ToValidUTF8(msg, "\uFFFD")
	l.mu.Lock()
	for first := true; first || msg != ""; first = false {
		part := msg
		if len(part) > model.MaxLogBlockBytes {
			n := model.MaxLogBlockBytes
			for n > 0 && !utf8.RuneStart(part[n]) {
				n--
			}
			part = part[:n]
		}
		msg = msg[len(part):]
		l.pending = append(l.pending, &ferryv1.LogBlock{Index: l.next, Log: part, Severity: sev})
		l.next++
	}
	l.mu.Unlock()
	select {
	case l.kick <- struct{}{}:
	default:
	}
}

func (l *stageLog) loop(ctx context.Context) {
	defer close(l.done)
	for {
		select {
		case <-ctx.Done():
			// Bounded: an agent stopping while the control plane is away
			// must not hang; unsent lines are lost then.
			fctx, cancel := context.WithTimeout(context.Background(), finalFlushTimeout)
			l.flush(fctx)
			cancel()
			return
		case <-l.kick:
		}
		// Gather what arrives in the next moment into one call.
		t := time.NewTimer(logFlushInterval)
		select {
		case <-ctx.Done():
		case <-t.C:
		}
		t.Stop()
		l.flush(ctx)
	}
}

// flush sends what is pending; the client retries while the control plane
// is away. A batch the control plane refuses is dropped (sending it again
// would fail again), with a warning in the agent's log.
func (l *stageLog) flush(ctx context.Context) {
	l.mu.Lock()
	blocks := l.pending
	l.pending = nil
	l.mu.Unlock()
	for len(blocks) > 0 {
		n := min(len(blocks), maxBlocksPerCall)
		_, err := l.client.ReportStageLogs(ctx, connect.NewRequest(&ferryv1.ReportStageLogsRequest{
			DeploymentId: l.deploymentID, StageId: l.stageID, Blocks: blocks[:n],
		}))
		if err != nil && ctx.Err() != nil {
			// Stopping: keep the rest for the final flush.
			l.mu.Lock()
			l.pending = append(blocks, l.pending...)
			l.mu.Unlock()
			return
		}
		if err != nil {
			l.logger.WarnContext(ctx, "stage log lines refused", "deployment_id", l.deploymentID, "stage", l.stageID, "lines", n, "error", err)
		}
		blocks = blocks[n:]
	}
}

// Close sends what is left and stops.
func (l *stageLog) Close() {
	l.stop()
	<-l.done
}

// stageMetadata is a stage's metadata, saved through the control plane.
type stageMetadata struct {
	client       *controlplane.Client
	deploymentID string
	stageID      string

	mu sync.Mutex
	kv map[string]string
}

var _ platform.Metadata = (*stageMetadata)(nil)

func (m *stageMetadata) Get(key string) (string, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	v, ok := m.kv[key]
	return v, ok
}

func (m *stageMetadata) Put(ctx context.Context, kv map[string]string) error {
	if _, err := m.client.SaveStageMetadata(ctx, connect.NewRequest(&ferryv1.SaveStageMetadataRequest{
		DeploymentId: m.deploymentID, StageId: m.stageID, Metadata: kv,
	})); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.kv == nil {
		m.kv = map[string]string{}
	}
	for k, v := range kv {
		m.kv[k] = v
	}
	return nil
}
