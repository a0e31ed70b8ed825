package admin

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/tortoise-dev/tortoise/core"
)

// The schema as JSON: export downloads the collections as GET
// /api/collections lists them (PocketBase's export: an array of
// collections, without secrets); import takes such an array (or
// {"collections": [...]}) and hands it to collections.Service.Import,
// which creates or updates every collection in one transaction.

// maxSchemaImport bounds an imported schema, pasted or uploaded.
const maxSchemaImport = 16 << 20

// exportCollections downloads every collection (or ?collection= alone).
func (a *Admin) exportCollections(w http.ResponseWriter, r *http.Request, sess *session) error {
	cols := a.opts.Service.Schema().List()
	file := "tortoise_schema.json"
	if ref := r.URL.Query().Get("collection"); ref != "" {
		c, err := a.opts.Service.Collection(ref)
		if err != nil {
			return core.NotFound("There is no collection %q.", ref)
		}
		cols, file = []*core.Collection{c}, c.Name+"_schema.json"
	}
	b, err := json.MarshalIndent(cols, "", "  ")
	if err != nil {
		return core.Internal(err, "encode the schema")
	}
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Content-Disposition", `attachment; filename="`+file+`"`)
	h.Set("Cache-Control", "no-store")
	_, _ = w.Write(append(b, '\n'))
	return nil
}

// schemaImportView is the import form.
type schemaImportView struct {
	Schema        string
	DeleteMissing bool
	Error         string
	Problems      []string
	Collections   int // how many collections there are now
}

func (schemaImportView) title() (string, string) { return "Import collections", "collections" }

func (a *Admin) importCollectionsPage(w http.ResponseWriter, r *http.Request, sess *session) error {
	a.render(w, r, http.StatusOK, "collections_import.html", sess, schemaImportView{Collections: len(a.opts.Service.Schema().List())})
	return nil
}

// importCollections imports the pasted or uploaded schema.
func (a *Admin) importCollections(w http.ResponseWriter, r *http.Request, sess *session) error {
	if err := parseForm(w, r, maxSchemaImport); err != nil {
		return err
	}
	v := schemaImportView{Schema: r.PostFormValue("schema"), DeleteMissing: r.PostFormValue("deleteMissing") != "",
		Collections: len(a.opts.Service.Schema().List())}
	if f, _, err := r.FormFile("file"); err == nil {
		b, err := io.ReadAll(io.LimitReader(f, maxSchemaImport))
		f.Close()
		if err != nil {
			return core.Invalid("The file could not be read.")
		}
		if len(bytes.TrimSpace(b)) > 0 {
			v.Schema = string(b)
		}
	}
	fail := func(status int) error {
		a.render(w, r, status, "collections_import.html", sess, v)
		return nil
	}
	defs, err := readSchemaJSON(v.Schema)
	if err != nil {
		v.Error = core.AsError(err).Message
		return fail(http.StatusBadRequest)
	}
	if err := a.opts.Collections.Import(r.Context(), defs, v.DeleteMissing); err != nil {
		e := core.AsError(err)
		if e == nil || e.Kind != core.KindInvalid {
			return err
		}
		v.Error, v.Problems = e.Message, schemaImportProblems(defs, e)
		return fail(http.StatusBadRequest)
	}
	a.log.Info("admin imported collections", "count", len(defs), "deleteMissing", v.DeleteMissing, "superuser", sess.rec.ID())
	msg := fmt.Sprintf("Imported %d collection(s).", len(defs))
	http.Redirect(w, r, "/admin/collections?flash="+url.QueryEscape(msg), http.StatusSeeOther)
	return nil
}

// readSchemaJSON reads an exported schema: an array of collections, or an
// object holding it under "collections" (the API's import body).
func readSchemaJSON(s string) ([]json.RawMessage, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, core.Invalid("Paste the schema's JSON or choose its file.")
	}
	var defs []json.RawMessage
	if strings.HasPrefix(s, "{") {
		var in struct {
			Collections []json.RawMessage `json:"collections"`
		}
		if err := json.Unmarshal([]byte(s), &in); err != nil {
			return nil, core.DecodeError(err, "schema")
		}
		defs = in.Collections
	} else if err := json.Unmarshal([]byte(s), &defs); err != nil {
		return nil, core.DecodeError(err, "schema")
	}
	if len(defs) == 0 {
		return nil, core.Invalid("The schema lists no collections.")
	}
	return defs, nil
}

// schemaImportProblems words an import's problems: collections.<i>.<key>
// becomes the collection's place and name, then the key.
func schemaImportProblems(defs []json.RawMessage, e *core.Error) []string {
	var out []string
	for key, fe := range e.Fields {
		where := key
		if rest, ok := strings.CutPrefix(key, "collections."); ok {
			idx, field, _ := strings.Cut(rest, ".")
			if i, err := strconv.Atoi(idx); err == nil && i >= 0 && i < len(defs) {
				var head struct{ Name string }
				_ = json.Unmarshal(defs[i], &head)
				where = fmt.Sprintf("collection %d", i+1)
				if head.Name != "" {
					where += fmt.Sprintf(" (%s)", head.Name)
				}
				if field != "" {
					where += ", " + field
				}
			}
		}
		out = append(out, where+": "+fe.Message)
	}
	slices.Sort(out)
	return out
}
