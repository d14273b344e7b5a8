package kubeapply

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestWriteSectionReplacesOnlyItsOwnSection(t *testing.T) {
	tests := []struct {
		name, before, want string
	}{
		{
			name:   "a missing file is created with a title",
			before: "",
			want:   "# Benchmark results\n\n## Local cluster\nnew\n",
		},
		{
			name:   "a file without the section gets it appended",
			before: "# Results\n\n## Control plane\nfigures\n",
			want:   "# Results\n\n## Control plane\nfigures\n\n## Local cluster\nnew\n",
		},
		{
			name:   "the section between others is replaced, the others kept",
			before: "# Results\n\n## Local cluster\nold\nolder\n\n## Control plane\nfigures\n",
			want:   "# Results\n\n## Local cluster\nnew\n\n## Control plane\nfigures\n",
		},
		{
			name:   "the last section is replaced up to the end",
			before: "# Results\n\n## Control plane\nfigures\n\n## Local cluster\nold\n",
			want:   "# Results\n\n## Control plane\nfigures\n\n## Local cluster\nnew\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "RESULTS.md")
			if tt.before != "" {
				if err := os.WriteFile(path, []byte(tt.before), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			if err := WriteSection(path, Heading+"\nnew\n"); err != nil {
				t.Fatal(err)
			}
			got, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, string(got)); diff != "" {
				t.Errorf("RESULTS.md (-want +got):\n%s", diff)
			}
		})
	}
}
