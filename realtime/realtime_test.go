package realtime

import "testing"

func TestHubDeliversToSubscribersOnly(t *testing.T) {
	t.Parallel()
	h := NewHub()
	a, ach := h.Connect()
	b, _ := h.Connect()
	if a == b || len(a) != 40 {
		t.Fatalf("ids %q %q", a, b)
	}
	if h.SendTo(a, Message{Topic: "@oauth2", Data: []byte("{}")}) {
		t.Error("delivered without a subscription")
	}
	if err := h.Subscribe(a, []string{"@oauth2"}); err != nil {
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
	if err := h.Subscribe("nope", nil); err == nil {
		t.Error("unknown client subscribed")
	}
	h.Disconnect(a)
	if h.SendTo(a, Message{Topic: "@oauth2"}) {
		t.Error("delivered after disconnect")
	}
	// A client that stops reading loses messages instead of blocking senders.
	c, _ := h.Connect()
	h.Subscribe(c, []string{"t"})
	for range clientBuffer + 10 {
		h.SendTo(c, Message{Topic: "t"})
	}
}
