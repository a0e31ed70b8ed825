package webhooks

import (
	"encoding/json"
	"testing"

	"github.com/tortoise-dev/tortoise/core"
	"github.com/tortoise-dev/tortoise/store"
)

// A delivery's body carries the record as an API reader would see it
// without its secrets: hidden fields, password hashes and token keys
// never leave; an update carries the record before it.
func TestPayload(t *testing.T) {
	t.Parallel()
	c := &core.Collection{ID: "pbc_users", Name: "users", Type: core.TypeAuth, Fields: []core.Field{
		{Name: "id", Type: core.FieldText},
		{Name: "email", Type: core.FieldEmail},
		{Name: "password", Type: core.FieldPassword},
		{Name: "tokenKey", Type: core.FieldText},
		{Name: "notes", Type: core.FieldText, Hidden: true},
		{Name: "name", Type: core.FieldText},
	}}
	rec := func(name string) *core.Record {
		return &core.Record{Collection: c, Data: map[string]any{"id": "u1", "email": "amy@example.com",
			"password": "$2a$hash", "tokenKey": "key", "notes": "private", "name": name}}
	}
	// The body as the delivery job carries it, args decoded as deliver
	// decodes them.
	payload := func(id string, ch store.Change) ([]byte, error) {
		args := deliveryArgs("wh_1", id, ch)
		var d delivery
		if err := json.Unmarshal(args, &d); err != nil || d.Webhook != "wh_1" || d.ID != id {
			t.Fatalf("args %s: %+v %v", args, d, err)
		}
		return d.Body, nil
	}
	body, err := payload("msg_1", store.Change{Action: store.ActionUpdate, Collection: c, Record: rec("Amy B"), Old: rec("Amy")})
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		ID, Event, Collection string
		Record, Previous      map[string]any
	}
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatal(err)
	}
	if got.ID != "msg_1" || got.Event != "update" || got.Collection != "users" || got.Record["name"] != "Amy B" || got.Previous["name"] != "Amy" {
		t.Errorf("payload %s", body)
	}
	for _, secret := range []string{"password", "tokenKey", "notes"} {
		if _, ok := got.Record[secret]; ok {
			t.Errorf("%s left in the record: %s", secret, body)
		}
		if _, ok := got.Previous[secret]; ok {
			t.Errorf("%s left in the previous record: %s", secret, body)
		}
	}
	if got.Record["email"] != "amy@example.com" || got.Record["collectionId"] != "pbc_users" {
		t.Errorf("record %v", got.Record)
	}
	created, _ := payload("msg_2", store.Change{Action: store.ActionCreate, Collection: c, Record: rec("Amy")})
	var c2 map[string]any
	if json.Unmarshal(created, &c2) != nil || c2["previous"] != nil {
		t.Errorf("a create carries no previous record: %s", created)
	}
}
