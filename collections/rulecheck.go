package collections

import (
	"context"
	"time"

	"github.com/tortoise-dev/tortoise/core"
	"github.com/tortoise-dev/tortoise/filter"
	"github.com/tortoise-dev/tortoise/service"
)

// compileRule parses and type-checks rule as a rule of c within the
// schema future (c included): the one check a rule passes when its
// collection is saved, and the one CheckRule runs on a draft.
func (s *Service) compileRule(future filter.Schema, c *core.Collection, rule string) error {
	env := &filter.Env{Schema: future, Collection: c, Request: &filter.Request{}, Now: time.Now(), AllowHidden: true}
	_, err := filter.Compile(rule, env, s.store.Dialect())
	return err
}

// ruleMessage is the user-safe text of a rule's compile error, which
// names the position.
func ruleMessage(err error) string {
	if e := core.AsError(err); e != nil {
		return e.Message
	}
	return err.Error()
}

// CheckRule checks rule as a rule of the collection a draft defines,
// exactly as saving the draft would check it, and saves nothing: what an
// admin UI runs while a rule is being typed. body is the draft in
// Create's JSON form or, with nameOrID, an update of that collection in
// Update's. Problems of the draft other than the rule (a field option, a
// relation to an unknown collection) are left to saving; a relation's
// target is resolved where it can be. Errors: KindInvalid with the
// filter's message (which names the position) under the field "rule";
// KindInvalid for a draft that does not decode or a view query that
// does not run; KindNotFound for an unknown nameOrID.
func (s *Service) CheckRule(ctx context.Context, nameOrID string, body []byte, rule string) error {
	sc := s.svc.Schema()
	var prev *core.Collection
	if nameOrID != "" {
		var err error
		if prev, err = s.svc.Collection(nameOrID); err != nil {
			return err
		}
	}
	next, err := decodeCollection(prev, body)
	if err != nil {
		return err
	}
	switch {
	case prev != nil:
		next.ID = prev.ID
	case next.ID == "":
		next.ID = "pbc_draft"
	}
	if next.IsView() {
		if err := s.viewFields(ctx, sc, prev, next); err != nil {
			return err
		}
	} else if prev == nil {
		s.completeNew(next)
	} else {
		carryOver(prev, next)
	}
	ignored := core.ValidationErrors{}
	for i := range next.Fields {
		if core.KnownFieldType(next.Fields[i].Type) {
			core.PrepareField(&next.Fields[i], core.PrepareContext{Collection: next, Lookup: sc.CollectionByNameOrID}, "", ignored)
		}
	}
	cols := make([]*core.Collection, 0, len(sc.List())+1)
	for _, c := range sc.List() {
		if c.ID != next.ID {
			cols = append(cols, c)
		}
	}
	if err := s.compileRule(service.NewSnapshot(append(cols, next)), next, rule); err != nil {
		if core.KindOf(err) != core.KindInvalid {
			return err
		}
		return core.FieldInvalid("rule", "validation_invalid_rule", ruleMessage(err))
	}
	return nil
}
