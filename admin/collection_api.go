package admin

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/tortoise-dev/tortoise/core"
)

// The API preview of a collection: who may do what (its rules in words)
// and how to call it, with curl and with PocketBase's JS SDK, using the
// collection's own field names and this server's address.

type colAPIView struct {
	Name, Path string
	Type       core.CollectionType
	Rules      []colRuleSummary
	Examples   []colAPIExample
	Setup      string // the JS SDK's client, which the examples use
}

func (v colAPIView) title() (string, string) { return "API of " + v.Name, "collections" }

// colRuleSummary is one rule in words.
type colRuleSummary struct {
	Action string
	Who    string
	Rule   string // the expression, when there is one
}

// colAPIExample is one operation with its curl and JS SDK calls.
type colAPIExample struct {
	ID, Title, Note string
	Curl, JS        string
}

func (a *Admin) collectionAPI(w http.ResponseWriter, r *http.Request, sess *session) error {
	c, err := a.collectionOf(r)
	if err != nil {
		return err
	}
	scheme := "http"
	if secure(r) {
		scheme = "https"
	}
	a.render(w, r, http.StatusOK, "collection_api.html", sess, collectionAPIView(c, scheme+"://"+r.Host))
	return nil
}

// collectionAPIView builds the preview of c served at base.
func collectionAPIView(c *core.Collection, base string) colAPIView {
	v := colAPIView{Name: c.Name, Path: collectionPath(c), Type: c.Type}
	type named struct {
		action string
		rule   *string
	}
	rules := []named{{"List and search", c.ListRule}, {"View one record", c.ViewRule}}
	if !c.IsView() {
		rules = append(rules, named{"Create", c.CreateRule}, named{"Update", c.UpdateRule}, named{"Delete", c.DeleteRule})
	}
	if c.Auth != nil {
		rules = append(rules, named{"Sign in", c.Auth.AuthRule}, named{"Manage other accounts", c.Auth.ManageRule})
	}
	for _, r := range rules {
		s := colRuleSummary{Action: r.action}
		switch {
		case r.rule == nil:
			s.Who = "Superusers only (locked)"
		case strings.TrimSpace(*r.rule) == "":
			s.Who = "Everyone, signed in or not"
		default:
			s.Who, s.Rule = "Requests matching", *r.rule
		}
		v.Rules = append(v.Rules, s)
	}

	// auth says how a call authenticates, by its rule.
	auth := func(rule *string) (curl, note string) {
		if rule != nil && strings.TrimSpace(*rule) == "" {
			return "", ""
		}
		if rule == nil {
			return " \\\n  -H \"Authorization: $SUPERUSER_TOKEN\"", "Locked: only a superuser's token (or a superuser API key) is let through."
		}
		return " \\\n  -H \"Authorization: $TOKEN\"", "The rule decides: send the token of a user it lets through."
	}
	coll := fmt.Sprintf("%s/api/collections/%s/records", base, c.Name)
	v.Setup = fmt.Sprintf("import PocketBase from 'pocketbase';\n\nconst pb = new PocketBase('%s');", base)
	sdk := fmt.Sprintf("pb.collection('%s')", c.Name)

	body, files := exampleRecordBody(c)
	curlBody := func(method, url, h string) string {
		if len(files) > 0 {
			var b strings.Builder
			fmt.Fprintf(&b, "curl -X %s '%s'%s", method, url, h)
			keys := make([]string, 0, len(body))
			for _, f := range c.Fields {
				if _, ok := body[f.Name]; ok {
					keys = append(keys, f.Name)
				}
			}
			for _, k := range keys {
				val, _ := json.Marshal(body[k])
				s := string(val)
				if str, ok := body[k].(string); ok {
					s = str
				}
				fmt.Fprintf(&b, " \\\n  -F '%s=%s'", k, strings.ReplaceAll(s, "'", "'\\''"))
			}
			for _, f := range files {
				fmt.Fprintf(&b, " \\\n  -F '%s=@./example.png'", f)
			}
			return b.String()
		}
		j, _ := json.MarshalIndent(orderedRecordBody(c, body), "  ", "  ")
		return fmt.Sprintf("curl -X %s '%s'%s \\\n  -H 'Content-Type: application/json' \\\n  -d '%s'", method, url, h,
			strings.ReplaceAll(string(j), "'", "'\\''"))
	}
	jsBody := func() string {
		j, _ := json.MarshalIndent(orderedRecordBody(c, body), "", "  ")
		s := "const data = " + string(j) + ";\n"
		if len(files) > 0 {
			s += "// files: a File or Blob, or use a FormData (see the SDK's docs)\n"
			for _, f := range files {
				s += fmt.Sprintf("data['%s'] = new File([blob], 'example.png');\n", f)
			}
		}
		return s
	}

	h, note := auth(c.ListRule)
	v.Examples = append(v.Examples, colAPIExample{ID: "list", Title: "List and search", Note: note,
		Curl: fmt.Sprintf("curl '%s?page=1&perPage=30&sort=-created'%s", coll, h),
		JS: fmt.Sprintf("// a page of 30, newest first\nconst page = await %s.getList(1, 30, {\n  filter: '%s',\n  sort: '-created',\n});\n\n// or every record, in batches\nconst all = await %s.getFullList({ sort: '-created' });",
			sdk, exampleRecordFilter(c), sdk)})
	h, note = auth(c.ViewRule)
	v.Examples = append(v.Examples, colAPIExample{ID: "view", Title: "View one record", Note: note,
		Curl: fmt.Sprintf("curl '%s/RECORD_ID'%s", coll, h),
		JS:   fmt.Sprintf("const record = await %s.getOne('RECORD_ID');", sdk)})
	if !c.IsView() {
		h, note = auth(c.CreateRule)
		v.Examples = append(v.Examples, colAPIExample{ID: "create", Title: "Create", Note: note,
			Curl: curlBody("POST", coll, h),
			JS:   jsBody() + fmt.Sprintf("\nconst record = await %s.create(data);", sdk)})
		h, note = auth(c.UpdateRule)
		v.Examples = append(v.Examples, colAPIExample{ID: "update", Title: "Update", Note: note,
			Curl: curlBody("PATCH", coll+"/RECORD_ID", h),
			JS:   jsBody() + fmt.Sprintf("\nconst record = await %s.update('RECORD_ID', data);", sdk)})
		h, note = auth(c.DeleteRule)
		v.Examples = append(v.Examples, colAPIExample{ID: "delete", Title: "Delete", Note: note,
			Curl: fmt.Sprintf("curl -X DELETE '%s/RECORD_ID'%s", coll, h),
			JS:   fmt.Sprintf("await %s.delete('RECORD_ID');", sdk)})
	}
	if c.Auth != nil && c.Auth.PasswordAuth.Enabled {
		identity := "email"
		if len(c.Auth.PasswordAuth.IdentityFields) > 0 {
			identity = strings.Join(c.Auth.PasswordAuth.IdentityFields, " or ")
		}
		v.Examples = append(v.Examples, colAPIExample{ID: "auth", Title: "Sign in with a password",
			Note: "The identity is the account's " + identity + ". The answer holds the token to send as Authorization.",
			Curl: fmt.Sprintf("curl -X POST '%s/api/collections/%s/auth-with-password' \\\n  -H 'Content-Type: application/json' \\\n  -d '{\"identity\": \"test@example.com\", \"password\": \"12345678\"}'", base, c.Name),
			JS:   fmt.Sprintf("const auth = await %s.authWithPassword('test@example.com', '12345678');\n// pb.authStore.token is sent with every later call\nconsole.log(pb.authStore.isValid, pb.authStore.record.id);", sdk)})
	}
	h, note = auth(c.ViewRule)
	if note == "" {
		note = "Realtime answers only the records the view rule (and, for *, the list rule) lets the subscriber see."
	}
	v.Examples = append(v.Examples, colAPIExample{ID: "realtime", Title: "Realtime", Note: note,
		Curl: fmt.Sprintf("# 1. open the event stream; its first event (PB_CONNECT) holds the clientId\ncurl -N '%s/api/realtime'\n\n# 2. subscribe that client to the collection's changes\ncurl -X POST '%s/api/realtime'%s \\\n  -H 'Content-Type: application/json' \\\n  -d '{\"clientId\": \"CLIENT_ID\", \"subscriptions\": [\"%s/*\"]}'", base, base, h, c.Name),
		JS:   fmt.Sprintf("// every change of any record\nawait %s.subscribe('*', (e) => {\n  console.log(e.action, e.record); // create, update or delete\n});\n\n// one record\nawait %s.subscribe('RECORD_ID', (e) => console.log(e.action, e.record));\n\n// stop\n%s.unsubscribe();", sdk, sdk, sdk)})
	return v
}

// exampleRecordBody is a record body with an example value for every field a
// client sets; files lists the file fields (sent as multipart).
func exampleRecordBody(c *core.Collection) (body map[string]any, files []string) {
	body = map[string]any{}
	for _, f := range c.Fields {
		if f.PrimaryKey || f.Type == core.FieldAutodate || (f.System && f.Hidden && f.Type != core.FieldPassword) {
			continue
		}
		if c.IsAuth() && f.Name == "verified" {
			continue
		}
		multi := f.IsMultiple()
		var val any
		switch f.Type {
		case core.FieldText:
			val = "example"
		case core.FieldEditor:
			val = "<p>example</p>"
		case core.FieldNumber:
			val = 123
		case core.FieldBool:
			val = true
		case core.FieldEmail:
			val = "test@example.com"
		case core.FieldURL:
			val = "https://example.com"
		case core.FieldDate:
			val = "2025-01-01 10:00:00.000Z"
		case core.FieldSelect:
			v := "VALUE"
			if len(f.Values) > 0 {
				v = f.Values[0]
			}
			val = v
			if multi {
				val = []string{v}
			}
		case core.FieldRelation:
			val = "RELATION_RECORD_ID"
			if multi {
				val = []string{"RELATION_RECORD_ID"}
			}
		case core.FieldJSON:
			val = map[string]any{"key": "value"}
		case core.FieldGeoPoint:
			val = map[string]any{"lon": 0, "lat": 0}
		case core.FieldPassword:
			val = "12345678"
			if c.IsAuth() && f.Name == "password" {
				body["passwordConfirm"] = "12345678"
			}
		case core.FieldFile:
			files = append(files, f.Name)
			continue
		default:
			continue
		}
		body[f.Name] = val
	}
	return body, files
}

// orderedJSONObject is a JSON object with its keys in a given order (one from
// a map would sort them).
type orderedJSONObject struct {
	keys []string
	vals map[string]any
}

func (o orderedJSONObject) MarshalJSON() ([]byte, error) {
	var b strings.Builder
	b.WriteByte('{')
	for i, k := range o.keys {
		if i > 0 {
			b.WriteByte(',')
		}
		kb, _ := json.Marshal(k)
		vb, err := json.Marshal(o.vals[k])
		if err != nil {
			return nil, err
		}
		b.Write(kb)
		b.WriteByte(':')
		b.Write(vb)
	}
	b.WriteByte('}')
	return []byte(b.String()), nil
}

// orderedRecordBody is body with its keys in the collection's field order.
func orderedRecordBody(c *core.Collection, body map[string]any) orderedJSONObject {
	o := orderedJSONObject{vals: body}
	for _, f := range c.Fields {
		if _, ok := body[f.Name]; ok {
			o.keys = append(o.keys, f.Name)
		}
		if f.Name == "password" {
			if _, ok := body["passwordConfirm"]; ok {
				o.keys = append(o.keys, "passwordConfirm")
			}
		}
	}
	return o
}

// exampleRecordFilter is a filter over one of c's fields.
func exampleRecordFilter(c *core.Collection) string {
	for _, f := range c.Fields {
		if f.Hidden || f.PrimaryKey {
			continue
		}
		switch f.Type {
		case core.FieldText, core.FieldEditor, core.FieldEmail, core.FieldURL:
			return fmt.Sprintf(`%s ~ "example"`, f.Name)
		case core.FieldNumber:
			return f.Name + " > 10"
		case core.FieldBool:
			return f.Name + " = true"
		}
	}
	return `created >= "2025-01-01 00:00:00"`
}
