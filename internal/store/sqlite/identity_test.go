package sqlite_test

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"testing"

	"github.com/pressly/goose/v3"

	"github.com/ferrycd/ferry/internal/model"
	"github.com/ferrycd/ferry/internal/store"
	"github.com/ferrycd/ferry/internal/store/sqlite"
)

// TestApplicationsBeforeIdentityMigrate opens a database written before
// migration 00005, when names were unique in a project: its applications
// keep their names, get their identity, and names may repeat from then on.
func TestApplicationsBeforeIdentityMigrate(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "ferry.db")
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	p, err := goose.NewProvider(goose.DialectSQLite3, db, os.DirFS("../sqlstore/migrations"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.UpTo(ctx, 4); err != nil {
		t.Fatal(err)
	}
	for _, row := range [][]string{{"1", "web", "web"}, {"2", "api", "api"}} {
		if _, err := db.Exec(`INSERT INTO applications (id, project_id, name, kind, agent_id, git_path, created_at, updated_at, revision)
			VALUES (?, 'p', ?, 'KUBERNETES', 'a1', ?, 0, 0, 1)`, row[0], row[1],
			`{"RepoID":"apps","Path":"`+row[2]+`","ConfigFilename":"app.pipecd.yaml"}`); err != nil {
			t.Fatal(err)
		}
	}
	s, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	a, err := s.GetApplication(ctx, "1")
	if err != nil || a.Name != "web" || a.GitPath.Path != "web" {
		t.Fatalf("application 1 after the migration = %+v, %v", a, err)
	}
	// The old row has its identity: the same config of the same agent is
	// refused, another folder with the same name is not.
	dup := &model.Application{ID: "3", ProjectID: "p", Name: "other", Kind: model.AppKindKubernetes, AgentID: "a1",
		GitPath: model.GitPath{RepoID: "apps", Path: "web", ConfigFilename: "app.pipecd.yaml"}}
	if err := s.CreateApplication(ctx, dup); !model.IsKind(err, model.KindAlreadyExists) {
		t.Fatalf("create at the path of a migrated application = %v, want already exists", err)
	}
	dup.Name, dup.GitPath.Path = "web", "canary/web"
	if err := s.CreateApplication(ctx, dup); err != nil {
		t.Fatalf("create a second web: %v", err)
	}
	list, _, err := s.ListApplications(ctx, store.ApplicationFilter{ProjectID: "p", Name: "web"}, store.Page{})
	if err != nil || len(list) != 2 {
		t.Fatalf("apps named web = %d, %v; want 2", len(list), err)
	}
	// Going back works once names no longer repeat (with repeats the old
	// unique name refuses it).
	if err := s.DeleteApplication(ctx, "3"); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if _, err := p.DownTo(ctx, 4); err != nil {
		t.Fatalf("down to 4: %v", err)
	}
	var name string
	if err := db.QueryRow("SELECT name FROM applications WHERE id = '2'").Scan(&name); err != nil || name != "api" {
		t.Fatalf("name after down = %q, %v", name, err)
	}
}
