package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestReadWebhookSecret(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	withNewline := write("newline", "from-a-file\n")
	blank := write("blank", " \n\t\n")
	for _, tc := range []struct {
		name, secret, file, want, wantErr string
	}{
		{name: "no secret leaves webhooks off"},
		{name: "an inline secret is used as given", secret: " inline ", want: " inline "},
		{name: "a file's secret loses its trailing newline", file: withNewline, want: "from-a-file"},
		{name: "a blank file is refused", file: blank, wantErr: "is empty"},
		{name: "a missing file is refused", file: filepath.Join(dir, "nope"), wantErr: "read webhook secret"},
		{name: "an inline secret and a file are refused together", secret: "x", file: withNewline, wantErr: "not both"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := readWebhookSecret(tc.secret, tc.file)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error = %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Errorf("readWebhookSecret = %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}
