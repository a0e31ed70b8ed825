package realtime

import (
	"fmt"
	"testing"

	"github.com/tortoise-dev/tortoise/core"
	"github.com/tortoise-dev/tortoise/service"
)

func TestHubDeliversToSubscribersOnly(t *testing.T) {
	t.Parallel()
	h := NewHub()
	a, ach, _ := h.Connect("")
	b, _, _ := h.Connect("")
	if a == b || len(a) != 40 {
		t.Fatalf("ids %q %q", a, b)
	}
	if h.SendTo(a, Message{Topic: "@oauth2", Data: []byte("{}")}) {
		t.Error("delivered without a subscription")
	}
	if err := h.Subscribe(a, []string{"@oauth2"}, nil); err != nil {
		t.Fatal(err)
	}
	if !h.SendTo(a, Message{Topic: "@oauth2", Data: []byte(`{"x":1}`)}) {
		t.Fatal("not delivered")
	}
	if m := <-ach; string(m.Data) != `{"x":1}` || m.Topic != "@oauth2" {
		t.Errorf("message %+v", m)
	}
	if h.SendTo(b, Message{Topic: "@oauth2"}) || h.SendTo("nope", Message{Topic: "@oauth2"}) {
		t.Error("delivered to the wrong client")
	}
	if err := h.Subscribe("nope", nil, nil); core.KindOf(err) != core.KindNotFound {
		t.Errorf("unknown client subscribed: %v", err)
	}
	h.Disconnect(a)
	if h.SendTo(a, Message{Topic: "@oauth2"}) {
		t.Error("delivered after disconnect")
	}
}

// A client that stops reading is disconnected once its buffer is full;
// sending never blocks.
func TestSlowClientIsDropped(t *testing.T) {
	t.Parallel()
	h := NewHub()
	c, _, dropped := h.Connect("")
	if err := h.Subscribe(c, []string{"@oauth2"}, nil); err != nil {
		t.Fatal(err)
	}
	for range clientBuffer {
		if !h.SendTo(c, Message{Topic: "@oauth2"}) {
			t.Fatal("dropped before its buffer filled")
		}
	}
	if h.SendTo(c, Message{Topic: "@oauth2"}) {
		t.Fatal("delivered past the buffer")
	}
	select {
	case <-dropped:
	default:
		t.Fatal("slow client still connected")
	}
	if h.Count() != 0 {
		t.Errorf("%d clients left", h.Count())
	}
}

func TestParseTopic(t *testing.T) {
	t.Parallel()
	tp, err := ParseTopic(`posts/*?options=%7B%22query%22%3A%7B%22expand%22%3A%22author%22%2C%22page%22%3A2%7D%2C%22headers%22%3A%7B%22x-token%22%3A%22t%22%7D%7D`)
	if err != nil || tp.Collection != "posts" || tp.RecordID != "*" || tp.Query["expand"] != "author" || tp.Query["page"] != "2" || tp.Headers["x-token"] != "t" {
		t.Errorf("%+v %v", tp, err)
	}
	// A line break would let the topic, written back as each event's
	// "event:" line, start a frame of its own (a forged delete event).
	forged := "docs/*?x=1\n\nevent:docs/*\ndata:{\"action\":\"delete\",\"record\":{\"id\":\"FAKE\"}}\n\nevent:x"
	for _, bad := range []string{"posts", "posts/", "/x", "a/b/c", "@other", "posts/*?options=%7B", forged, "posts/*\r", "posts/a\x00"} {
		if _, err := ParseTopic(bad); core.KindOf(err) != core.KindInvalid {
			t.Errorf("%q: %v", bad, err)
		}
	}
}

// A client authorized as one caller cannot be re-subscribed by another.
func TestSubscribeKeepsIdentity(t *testing.T) {
	t.Parallel()
	h := NewHub()
	users := &core.Collection{ID: "u", Name: "users"}
	rec := func(id string) *core.Record { return &core.Record{Collection: users, Data: map[string]any{"id": id}} }
	c, _, _ := h.Connect("")
	if err := h.Subscribe(c, []string{"posts/*"}, &service.Request{Auth: rec("a")}); err != nil {
		t.Fatal(err)
	}
	if err := h.Subscribe(c, nil, &service.Request{Auth: rec("b")}); core.KindOf(err) != core.KindForbidden {
		t.Errorf("another user took the client over: %v", err)
	}
	if err := h.Subscribe(c, nil, nil); core.KindOf(err) != core.KindForbidden {
		t.Errorf("a guest took the client over: %v", err)
	}
	if err := h.Subscribe(c, []string{"posts/x"}, &service.Request{Auth: rec("a")}); err != nil {
		t.Errorf("same user: %v", err)
	}
	if s := h.Subscribers(&core.Collection{ID: "p", Name: "posts"}, "x"); len(s) != 1 || s[0].Auth.Auth.ID() != "a" {
		t.Errorf("subscribers %+v", s)
	}
}

// The clients of one address hold MaxAddressSubscriptions topics at most
// together: each costs a few KB, and one address may open hundreds of
// connections (60 guest clients of 1,000 topics took 440 MB).
func TestSubscriptionsPerAddress(t *testing.T) {
	t.Parallel()
	h := NewHub()
	topics := make([]string, MaxSubscriptions)
	for i := range topics {
		topics[i] = fmt.Sprintf("posts/%015d", i)
	}
	var ids []string
	for range MaxAddressSubscriptions / MaxSubscriptions {
		c, _, _ := h.Connect("addr-1")
		if err := h.Subscribe(c, topics, nil); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, c)
	}
	more, _, _ := h.Connect("addr-1")
	if err := h.Subscribe(more, topics[:1], nil); core.KindOf(err) != core.KindInvalid {
		t.Errorf("one topic past the address's cap: %v", err)
	}
	// Resubscribing replaces a client's topics: not counted twice.
	if err := h.Subscribe(ids[0], topics, nil); err != nil {
		t.Errorf("resubscribing the same topics: %v", err)
	}
	other, _, _ := h.Connect("addr-2")
	if err := h.Subscribe(other, topics, nil); err != nil {
		t.Errorf("another address: %v", err)
	}
	h.Disconnect(ids[1])
	if err := h.Subscribe(more, topics, nil); err != nil {
		t.Errorf("after a client of the address left: %v", err)
	}
}
