package trigger

import (
	"google.golang.org/protobuf/types/known/timestamppb"

	ferryv1 "github.com/ferrycd/ferry/api/gen/ferry/v1"
	"github.com/ferrycd/ferry/internal/gitrepo"
)

// commitOf turns a Git commit into the API's trigger commit.
func commitOf(c gitrepo.Commit, branch string) *ferryv1.Commit {
	return &ferryv1.Commit{
		Hash:      c.Hash,
		Message:   c.Message,
		Author:    c.Author.Name,
		Branch:    branch,
		Timestamp: timestamppb.New(c.CommitTime),
	}
}
