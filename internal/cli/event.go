package cli

import (
	"fmt"
	"strings"

	"connectrpc.com/connect"
	"github.com/spf13/cobra"

	ferryv1 "github.com/ferrycd/ferry/api/gen/ferry/v1"
)

// newEventCmd builds `ferry event …`.
func newEventCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "event",
		Aliases: []string{"events"},
		Short:   "Register events for agents' event watchers, and list them",
		Long: `An event is a named value CI raises, such as a new image tag. Agents whose
application configs watch for that name and labels update the configured
fields in Git, which then deploys like any commit.`,
	}
	cmd.AddCommand(newEventRegisterCmd(g), newEventListCmd(g))
	return cmd
}

func newEventRegisterCmd(g *globals) *cobra.Command {
	var (
		name, data         string
		labels, eventCtxts []string
	)
	cmd := &cobra.Command{
		Use:     "register --name NAME --data VALUE",
		Short:   "Register an event",
		Example: `  ferry event register --name image-update --data ghcr.io/acme/checkout:v1.2.3 --label app=checkout`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := g.call(cmd)
			if err != nil {
				return err
			}
			req := &ferryv1.RegisterEventRequest{Name: name, Data: data}
			if req.Labels, err = parseLabels("label", labels); err != nil {
				return err
			}
			if req.Contexts, err = parseLabels("context-value", eventCtxts); err != nil {
				return err
			}
			res, err := c.client.RegisterEvent(c.ctx, connect.NewRequest(req))
			if err != nil {
				return err
			}
			return c.out.print(res.Msg, func(t *table) {
				fmt.Fprintf(t.tw, "Event %s registered (id %s).\n", name, res.Msg.GetEventId())
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&name, "name", "", "the event's name, matched by the event watchers")
	f.StringVar(&data, "data", "", "the event's value, such as an image tag")
	f.StringArrayVar(&labels, "label", nil, "a label, key=value (repeatable), matched by the event watchers")
	f.StringArrayVar(&eventCtxts, "context-value", nil, "extra context for the commit message, key=value (repeatable)")
	_ = cmd.MarkFlagRequired("name")
	_ = cmd.MarkFlagRequired("data")
	return cmd
}

func newEventListCmd(g *globals) *cobra.Command {
	var (
		name     string
		statuses []string
		pg       pageFlags
	)
	cmd := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List events, newest first",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := g.call(cmd)
			if err != nil {
				return err
			}
			req := &ferryv1.ListEventsRequest{Name: name}
			for _, s := range statuses {
				st, err := parseEnum[ferryv1.EventStatus]("status", s)
				if err != nil {
					return err
				}
				req.Statuses = append(req.Statuses, st)
			}
			out := &ferryv1.ListEventsResponse{}
			err = pg.each(cmd, func(size int32, token string) (string, error) {
				req.PageSize, req.PageToken = size, token
				res, err := c.client.ListEvents(c.ctx, connect.NewRequest(req))
				if err != nil {
					return "", err
				}
				out.Events = append(out.Events, res.Msg.GetEvents()...)
				out.NextPageToken = res.Msg.GetNextPageToken()
				return out.NextPageToken, nil
			})
			if err != nil {
				return err
			}
			return c.out.print(out, func(t *table) {
				t.row("ID", "NAME", "DATA", "LABELS", "STATUS", "AGE")
				for _, e := range out.GetEvents() {
					t.row(e.GetId(), e.GetName(), e.GetData(), labelString(e.GetLabels()), enumName(e.GetStatus()), age(e.GetCreatedAt()))
				}
			})
		},
	}
	cmd.Flags().StringVar(&name, "name", "", "only events with this name")
	cmd.Flags().StringArrayVar(&statuses, "status", nil, "only this status (repeatable): "+strings.Join(enumNames[ferryv1.EventStatus](), ", "))
	pg.register(cmd)
	return cmd
}
