package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/goccy/go-yaml"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// printer writes a result as a table for people (the default) or as JSON or
// YAML for scripts. JSON and YAML are the API's own message encoding, so a
// script reads the same field names as the API reference.
type printer struct {
	w      io.Writer
	format string
}

// printer checks -o and returns a printer writing to the command's stdout.
func (g *globals) printer(w io.Writer) (*printer, error) {
	switch g.output {
	case "table", "json", "yaml":
		return &printer{w: w, format: g.output}, nil
	}
	return nil, usagef("output format %q is not known: use table, json or yaml", g.output)
}

// print writes msg; for tables it calls fill to write the rows.
func (p *printer) print(msg proto.Message, fill func(t *table)) error {
	switch p.format {
	case "json", "yaml":
		// protojson varies its spacing on purpose; re-indent it so output
		// is stable for scripts and golden files.
		compact, err := protojson.Marshal(msg)
		if err != nil {
			return fmt.Errorf("encode result: %w", err)
		}
		var buf bytes.Buffer
		if err := json.Indent(&buf, compact, "", "  "); err != nil {
			return fmt.Errorf("encode result: %w", err)
		}
		data := buf.Bytes()
		if p.format == "yaml" {
			if data, err = yaml.JSONToYAML(data); err != nil {
				return fmt.Errorf("encode result: %w", err)
			}
		}
		if !bytes.HasSuffix(data, []byte("\n")) {
			data = append(data, '\n')
		}
		_, err = p.w.Write(data)
		return err
	}
	t := &table{tw: tabwriter.NewWriter(p.w, 0, 4, 2, ' ', 0)}
	fill(t)
	return t.tw.Flush()
}

// table is a tab-aligned table; the first row is the header.
type table struct {
	tw *tabwriter.Writer
}

// row writes one row of cells.
func (t *table) row(cells ...string) {
	for i, c := range cells {
		if c == "" {
			cells[i] = "-"
		}
		cells[i] = strings.ReplaceAll(cells[i], "\t", " ")
	}
	fmt.Fprintln(t.tw, strings.Join(cells, "\t"))
}

// fields writes "Name:  value" lines, for the detail view of one object.
func (t *table) fields(kv ...string) {
	for i := 0; i+1 < len(kv); i += 2 {
		v := kv[i+1]
		if v == "" {
			v = "-"
		}
		fmt.Fprintf(t.tw, "%s:\t%s\n", kv[i], v)
	}
}

// enumName returns an enum value's name without its type prefix:
// DEPLOYMENT_STATUS_SUCCESS becomes SUCCESS.
func enumName(e protoreflect.Enum) string {
	values := e.Descriptor().Values()
	name := string(values.ByNumber(e.Number()).Name())
	prefix := strings.TrimSuffix(string(values.ByNumber(0).Name()), "UNSPECIFIED")
	name = strings.TrimPrefix(name, prefix)
	if name == "UNSPECIFIED" {
		return ""
	}
	return name
}

// parseEnum finds the value of an enum by its short name, case-insensitive
// and with dashes for underscores ("quick-sync" for QUICK_SYNC). It lists
// the accepted names when s is not one of them.
func parseEnum[E interface {
	protoreflect.Enum
	~int32
}](flag, s string) (E, error) {
	var zero E
	values := zero.Descriptor().Values()
	want := strings.ToUpper(strings.ReplaceAll(s, "-", "_"))
	var names []string
	for i := 1; i < values.Len(); i++ {
		v := values.Get(i)
		short := enumName(E(v.Number()))
		if short == want {
			return E(v.Number()), nil
		}
		names = append(names, strings.ToLower(strings.ReplaceAll(short, "_", "-")))
	}
	return zero, usagef("--%s %q is not known: use one of %s", flag, s, strings.Join(names, ", "))
}

// enumNames lists an enum's short names as flags take them, for help texts
// and completion.
func enumNames[E interface {
	protoreflect.Enum
	~int32
}]() []string {
	var zero E
	values := zero.Descriptor().Values()
	var names []string
	for i := 1; i < values.Len(); i++ {
		names = append(names, strings.ToLower(strings.ReplaceAll(enumName(E(values.Get(i).Number())), "_", "-")))
	}
	return names
}

// age renders how long ago ts was, kubectl style: 45s, 12m, 3h, 5d.
func age(ts *timestamppb.Timestamp) string {
	if ts == nil || !ts.IsValid() || ts.AsTime().IsZero() {
		return ""
	}
	d := time.Since(ts.AsTime())
	switch {
	case d < 0:
		return "0s"
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh", int(d.Hours()))
	default:
		return fmt.Sprintf("%dd", int(d.Hours()/24))
	}
}

// timestamp renders ts in RFC 3339, or "" when unset.
func timestamp(ts *timestamppb.Timestamp) string {
	if ts == nil || !ts.IsValid() || ts.AsTime().IsZero() {
		return ""
	}
	return ts.AsTime().Local().Format(time.RFC3339)
}

// labelString renders labels as sorted k=v pairs.
func labelString(m map[string]string) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, k+"="+m[k])
	}
	return strings.Join(parts, ",")
}

// parseLabels reads k=v pairs given to a repeated flag.
func parseLabels(flag string, pairs []string) (map[string]string, error) {
	if len(pairs) == 0 {
		return nil, nil
	}
	m := make(map[string]string, len(pairs))
	for _, p := range pairs {
		k, v, ok := strings.Cut(p, "=")
		if !ok || k == "" {
			return nil, usagef("--%s %q: write it as key=value", flag, p)
		}
		m[k] = v
	}
	return m, nil
}

// shortCommit abbreviates a commit hash for tables, as git does.
func shortCommit(hash string) string {
	if len(hash) > 8 {
		return hash[:8]
	}
	return hash
}
