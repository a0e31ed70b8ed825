package records_test

import (
	"bytes"
	"io"
	"mime/multipart"
	"testing"

	"github.com/tortoise-dev/tortoise/records"
)

// AddUploads puts a form's files after the names a body already holds
// under the key, as uploads that read the parts' bytes.
func TestAddUploads(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for _, name := range []string{"a.txt", "b.txt"} {
		w, _ := mw.CreateFormFile("docs", name)
		w.Write([]byte("content of " + name))
	}
	mw.Close()
	form, err := multipart.NewReader(&buf, mw.Boundary()).ReadForm(1 << 20)
	if err != nil {
		t.Fatal(err)
	}
	defer form.RemoveAll()

	for _, tc := range []struct {
		name  string
		body  map[string]any
		names int // names kept before the uploads
	}{
		{"no value yet", map[string]any{}, 0},
		{"one name", map[string]any{"docs": "kept.txt"}, 1},
		{"a list of names", map[string]any{"docs": []any{"k1.txt", "k2.txt"}}, 2},
	} {
		records.AddUploads(tc.body, "docs", form.File["docs"])
		var got []any
		switch v := tc.body["docs"].(type) {
		case []*records.Upload:
			for _, u := range v {
				got = append(got, u)
			}
		case []any:
			got = v
		}
		if len(got) != tc.names+2 {
			t.Fatalf("%s: %d values, want %d", tc.name, len(got), tc.names+2)
		}
		for i, v := range got[tc.names:] {
			up, ok := v.(*records.Upload)
			if !ok {
				t.Fatalf("%s: value %d is %T, want an upload", tc.name, tc.names+i, v)
			}
			rc, err := up.Open()
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(rc)
			rc.Close()
			if want := "content of " + up.Filename; string(b) != want || up.Size != int64(len(want)) {
				t.Errorf("%s: %s reads %q (size %d)", tc.name, up.Filename, b, up.Size)
			}
		}
	}
}
