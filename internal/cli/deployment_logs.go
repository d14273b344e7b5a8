package cli

import (
	"fmt"
	"io"
	"strings"
	"time"

	"connectrpc.com/connect"
	"github.com/spf13/cobra"

	ferryv1 "github.com/ferrycd/ferry/api/gen/ferry/v1"
)

// logPollInterval is how often --follow asks for new log blocks.
const logPollInterval = 500 * time.Millisecond

// logPageSize is how many blocks one GetStageLog call asks for; a long log
// is read in pages of it.
const logPageSize = 2000

func newDeploymentLogsCmd(g *globals) *cobra.Command {
	var (
		stage  string
		follow bool
	)
	cmd := &cobra.Command{
		Use:   "logs DEPLOYMENT_ID",
		Short: "Print the log of every stage of a deployment, or of one with --stage",
		Long: `Print the stage logs of a deployment as text, each stage under a header.
Long logs are read a page at a time. A stage keeps at most 50,000 lines
and 8 MiB of log; a log cut there ends with a line saying how much was not
kept. With --follow it keeps printing new lines as the agent reports them
and returns when the deployment has completed.`,
		Example: `  ferry deployment logs 0193c2…
  ferry deployment logs 0193c2… --stage K8S_CANARY_ROLLOUT --follow`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.call(cmd)
			if err != nil {
				return err
			}
			if c.out.format != "table" {
				return usagef("logs are printed as text: drop -o %s", c.out.format)
			}
			f := &logFollower{c: c, w: cmd.OutOrStdout(), deployment: args[0], stage: stage, last: map[string]int64{}}
			tick := time.NewTicker(logPollInterval)
			defer tick.Stop()
			for {
				done, err := f.poll()
				if err != nil || done || !follow {
					return err
				}
				select {
				case <-c.ctx.Done():
					return c.ctx.Err()
				case <-tick.C:
				}
			}
		},
	}
	cmd.Flags().StringVar(&stage, "stage", "", "only this stage, by id or name")
	cmd.Flags().BoolVarP(&follow, "follow", "f", false, "keep printing new lines until the deployment completes")
	return cmd
}

// logFollower prints the stage logs of one deployment, each block once.
type logFollower struct {
	c          *callCtx
	w          io.Writer
	deployment string
	stage      string
	// last is the index of the last block printed, per stage id.
	last    map[string]int64
	current string
}

// poll prints what is new and reports whether the deployment has completed
// and every block of it was printed.
func (f *logFollower) poll() (bool, error) {
	res, err := f.c.client.GetDeployment(f.c.ctx, connect.NewRequest(&ferryv1.GetDeploymentRequest{DeploymentId: f.deployment}))
	if err != nil {
		return false, err
	}
	d := res.Msg.GetDeployment()
	stages := d.GetStages()
	if f.stage != "" {
		st, err := findStage(d, f.stage)
		if err != nil {
			return false, err
		}
		stages = []*ferryv1.Stage{st}
	}
	completed := deploymentCompleted(d.GetStatus())
	for _, st := range stages {
		if st.GetStatus() == ferryv1.StageStatus_STAGE_STATUS_NOT_STARTED_YET {
			continue
		}
		if err := f.printStage(d.GetId(), st); err != nil {
			return false, err
		}
	}
	return completed, nil
}

// printStage prints the blocks of one stage not printed yet, a page at a
// time.
func (f *logFollower) printStage(deploymentID string, st *ferryv1.Stage) error {
	after, seen := f.last[st.GetId()]
	if !seen {
		after, f.last[st.GetId()] = -1, -1
	}
	for {
		logs, err := f.c.client.GetStageLog(f.c.ctx, connect.NewRequest(&ferryv1.GetStageLogRequest{
			DeploymentId: deploymentID, StageId: st.GetId(), AfterIndex: after, PageSize: logPageSize,
		}))
		if err != nil {
			return err
		}
		blocks := logs.Msg.GetBlocks()
		if len(blocks) > 0 && f.current != st.GetId() {
			fmt.Fprintf(f.w, "== %s [%s]\n", st.GetName(), enumName(st.GetStatus()))
			f.current = st.GetId()
		}
		for _, b := range blocks {
			text := strings.TrimRight(b.GetLog(), "\n")
			if b.GetSeverity() == ferryv1.LogSeverity_LOG_SEVERITY_ERROR {
				text = "ERROR " + text
			}
			fmt.Fprintln(f.w, text)
			after = b.GetIndex()
			f.last[st.GetId()] = after
		}
		if !logs.Msg.GetHasMore() || len(blocks) == 0 {
			return nil
		}
	}
}

// deploymentCompleted reports whether s is final.
func deploymentCompleted(s ferryv1.DeploymentStatus) bool {
	switch s {
	case ferryv1.DeploymentStatus_DEPLOYMENT_STATUS_SUCCESS,
		ferryv1.DeploymentStatus_DEPLOYMENT_STATUS_FAILURE,
		ferryv1.DeploymentStatus_DEPLOYMENT_STATUS_CANCELLED:
		return true
	}
	return false
}
