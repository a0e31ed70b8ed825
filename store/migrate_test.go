package store

import (
	"context"
	"io/fs"
	"reflect"
	"strings"
	"testing"
	"testing/fstest"
)

func TestLoadMigrations(t *testing.T) {
	t.Parallel()
	file := func(text string) *fstest.MapFile { return &fstest.MapFile{Data: []byte(text)} }
	tests := []struct {
		name    string
		files   fstest.MapFS
		want    []Migration
		wantErr string
	}{
		{
			name: "in order",
			files: fstest.MapFS{
				"m/0002_add_jobs.sql": file("CREATE TABLE _jobs (id TEXT);"),
				"m/0001_init.sql":     file("CREATE TABLE IF NOT EXISTS _params (key TEXT);"),
			},
			want: []Migration{
				{Version: 1, Name: "init", SQL: "CREATE TABLE IF NOT EXISTS _params (key TEXT);"},
				{Version: 2, Name: "add_jobs", SQL: "CREATE TABLE _jobs (id TEXT);"},
			},
		},
		{name: "empty folder", files: fstest.MapFS{"m": &fstest.MapFile{Mode: fs.ModeDir | 0o755}}},
		{name: "no folder", files: fstest.MapFS{}, wantErr: "read migrations"},
		{name: "gap", files: fstest.MapFS{"m/0001_a.sql": file("x"), "m/0003_c.sql": file("x")}, wantErr: "version 3, want 2"},
		{name: "not from 1", files: fstest.MapFS{"m/0002_b.sql": file("x")}, wantErr: "version 2, want 1"},
		{name: "duplicate", files: fstest.MapFS{"m/0001_a.sql": file("x"), "m/0001_b.sql": file("x")}, wantErr: "version 1, want 2"},
		{name: "three digits", files: fstest.MapFS{"m/001_a.sql": file("x")}, wantErr: "want a name such as"},
		{name: "no name", files: fstest.MapFS{"m/0001.sql": file("x")}, wantErr: "want a name such as"},
		{name: "capitals", files: fstest.MapFS{"m/0001_Init.sql": file("x")}, wantErr: "want a name such as"},
		{name: "other file", files: fstest.MapFS{"m/0001_a.sql": file("x"), "m/README": file("x")}, wantErr: "want a name such as"},
		{name: "empty file", files: fstest.MapFS{"m/0001_a.sql": file(" \n\t\n")}, wantErr: "0001_a.sql is empty"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := LoadMigrations(tc.files, "m")
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error = %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

// refuseMigrator fails the test if Migrate gets as far as the database.
type refuseMigrator struct{ t *testing.T }

func (m refuseMigrator) Locked(context.Context, func(MigrationTx) error) error {
	m.t.Error("Migrate reached the database with a bad list")
	return nil
}

func TestMigrateChecksTheList(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		ms      []Migration
		wantErr string
	}{
		{name: "not from 1", ms: []Migration{{Version: 2, Name: "b", SQL: "x"}}, wantErr: "0002_b: version 2, want 1"},
		{name: "out of order", ms: []Migration{{Version: 2, Name: "b", SQL: "x"}, {Version: 1, Name: "a", SQL: "x"}}, wantErr: "want 1"},
		{name: "bad name", ms: []Migration{{Version: 1, Name: "a b", SQL: "x"}}, wantErr: "name must be"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := Migrate(context.Background(), refuseMigrator{t}, tc.ms)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("error = %v, want one containing %q", err, tc.wantErr)
			}
		})
	}
}
