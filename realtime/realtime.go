// Package realtime keeps the server-sent-event clients of /api/realtime:
// who is connected, what each subscribed to and as whom, and delivery of
// messages to them. What a record change means for a subscriber (access
// rules, encoding) is the api package's to decide; this package finds the
// subscribers of a change and hands each its message without ever waiting
// for one: a client too slow to take its messages is disconnected (its SDK
// reconnects and subscribes again) rather than slowing the others.
package realtime

import (
	"encoding/json"
	"net/url"
	"strings"
	"sync"

	"github.com/tortoise-dev/tortoise/core"
	"github.com/tortoise-dev/tortoise/service"
)

// Message is one event for a client: its topic (the SSE event name) and
// JSON data.
type Message struct {
	Topic string
	Data  []byte
}

// Limits on what one client may ask for.
const (
	// MaxSubscriptions caps the topics one client may subscribe to.
	MaxSubscriptions = 1000
	// MaxTopicLength caps the length of one topic, options included.
	MaxTopicLength = 2048
)

// clientBuffer is how many messages may wait for a client before it is
// deemed too slow and disconnected.
const clientBuffer = 64

// Topic is one parsed subscription: "COLLECTION/*" or
// "COLLECTION/RECORD_ID", with optional "?options=" JSON carrying query
// parameters (expand, fields, filter) and headers for the rules; or a
// system topic such as "@oauth2".
type Topic struct {
	// Name is the topic as the client wrote it: the SSE event name of its
	// messages.
	Name string
	// Collection is the collection name or id, "" for a system topic.
	Collection string
	// RecordID is "*" for every record of the collection.
	RecordID string
	// Query and Headers come from the options.
	Query   map[string]string
	Headers map[string]string
}

// ParseTopic reads a topic. Errors: KindInvalid naming what is wrong.
func ParseTopic(s string) (Topic, error) {
	t := Topic{Name: s}
	if len(s) > MaxTopicLength {
		return t, core.FieldInvalid("subscriptions", "validation_topic_too_long", "A topic is longer than 2048 characters.")
	}
	path, rawQuery, _ := strings.Cut(s, "?")
	if strings.HasPrefix(path, "@") {
		if path != "@oauth2" {
			return t, core.FieldInvalid("subscriptions", "validation_unknown_topic", "Unknown topic "+quote(path)+".")
		}
		return t, nil
	}
	coll, rec, ok := strings.Cut(path, "/")
	if !ok || coll == "" || rec == "" || strings.Contains(rec, "/") {
		return t, core.FieldInvalid("subscriptions", "validation_invalid_topic",
			"Topic "+quote(path)+" is neither COLLECTION/* nor COLLECTION/RECORD_ID.")
	}
	t.Collection, t.RecordID = coll, rec
	if rawQuery != "" {
		q, err := url.ParseQuery(rawQuery)
		if err != nil {
			return t, core.FieldInvalid("subscriptions", "validation_invalid_topic_options", "Malformed topic query.")
		}
		if raw := q.Get("options"); raw != "" {
			var opts struct {
				Query   map[string]any `json:"query"`
				Headers map[string]any `json:"headers"`
			}
			if err := json.Unmarshal([]byte(raw), &opts); err != nil {
				return t, core.FieldInvalid("subscriptions", "validation_invalid_topic_options", "The topic options are not valid JSON.")
			}
			t.Query, t.Headers = stringMap(opts.Query), stringMap(opts.Headers)
		}
	}
	return t, nil
}

func quote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// stringMap keeps the string values of m (and numbers and booleans in
// their JSON form), as query parameters and headers are strings.
func stringMap(m map[string]any) map[string]string {
	if len(m) == 0 {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		switch v := v.(type) {
		case string:
			out[k] = v
		case nil:
		default:
			b, _ := json.Marshal(v)
			out[k] = string(b)
		}
	}
	return out
}

// Hub is the set of connected clients.
type Hub struct {
	mu      sync.RWMutex
	clients map[string]*Client
	done    chan struct{}
	once    sync.Once
}

// Client is one connection. Its fields other than ID are guarded by the
// hub; read them through Subscribers.
type Client struct {
	ID   string
	ch   chan Message
	gone chan struct{} // closed when the client is disconnected
	subs map[string]Topic
	auth *service.Request
}

// NewHub returns an empty hub.
func NewHub() *Hub { return &Hub{clients: map[string]*Client{}, done: make(chan struct{})} }

// Close tells every connection to end (the server is shutting down, and
// streams would otherwise keep it waiting).
func (h *Hub) Close() { h.once.Do(func() { close(h.done) }) }

// Done is closed when the hub is closed.
func (h *Hub) Done() <-chan struct{} { return h.done }

// Connect registers a new client and returns it, with the channel its
// messages arrive on and one that is closed if the hub drops it (it was
// too slow). Call Disconnect when the connection ends.
func (h *Hub) Connect() (id string, messages <-chan Message, dropped <-chan struct{}) {
	id = core.RandomString(40, core.Alphanumeric)
	c := &Client{ID: id, ch: make(chan Message, clientBuffer), gone: make(chan struct{}), subs: map[string]Topic{}}
	h.mu.Lock()
	h.clients[id] = c
	h.mu.Unlock()
	return id, c.ch, c.gone
}

// Disconnect forgets a client.
func (h *Hub) Disconnect(id string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.dropLocked(id)
}

func (h *Hub) dropLocked(id string) {
	if c := h.clients[id]; c != nil {
		delete(h.clients, id)
		close(c.gone)
	}
}

// DisconnectAll drops every client (they reconnect and resubscribe).
func (h *Hub) DisconnectAll() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for id := range h.clients {
		h.dropLocked(id)
	}
}

// Count returns the number of connected clients.
func (h *Hub) Count() int {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return len(h.clients)
}

// Subscribe replaces a client's subscriptions and the identity they are
// checked against (auth, nil for a guest). Errors: KindNotFound for an
// unknown client, KindInvalid for too many or malformed topics.
func (h *Hub) Subscribe(id string, topics []string, auth *service.Request) error {
	if len(topics) > MaxSubscriptions {
		return core.FieldInvalid("subscriptions", "validation_too_many", "Too many subscriptions (at most 1000).")
	}
	subs := make(map[string]Topic, len(topics))
	for _, s := range topics {
		t, err := ParseTopic(s)
		if err != nil {
			return err
		}
		subs[s] = t
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	c := h.clients[id]
	if c == nil {
		return core.NotFound("Missing or invalid client id.")
	}
	if prev := Identity(c.auth); prev != "" && prev != Identity(auth) {
		return core.Forbidden("The current and the previous request authorization don't match.")
	}
	c.subs, c.auth = subs, auth
	return nil
}

// Identity names who a client is authorized as ("" for a guest): clients
// with the same identity get the same answers from the rules.
func Identity(req *service.Request) string {
	switch {
	case req == nil:
		return ""
	case req.Key != nil:
		return "key:" + req.Key.ID
	case req.Auth != nil:
		return req.Auth.Collection.ID + "/" + req.Auth.ID()
	case req.Superuser:
		return "superuser"
	}
	return ""
}

// Subscriber is a client subscribed to a topic, as Subscribers finds it.
type Subscriber struct {
	ClientID string
	Auth     *service.Request
	Topic    Topic
}

// Subscribers returns the subscriptions to records of c: match(t) says
// whether a record topic concerns the change at hand.
func (h *Hub) Subscribers(c *core.Collection, recordID string) []Subscriber {
	h.mu.RLock()
	defer h.mu.RUnlock()
	var out []Subscriber
	for id, cl := range h.clients {
		for _, t := range cl.subs {
			if t.Collection == "" || (t.Collection != c.Name && t.Collection != c.ID && !strings.EqualFold(t.Collection, c.Name)) {
				continue
			}
			if t.RecordID == "*" || t.RecordID == recordID {
				out = append(out, Subscriber{ClientID: id, Auth: cl.auth, Topic: t})
			}
		}
	}
	return out
}

// UpdateAuth applies fn to the identity of every client authenticated as
// the record id of collection cid: fn returns the identity to keep (nil:
// a guest from now on), as when the account changes or is deleted.
func (h *Hub) UpdateAuth(cid, id string, fn func(*service.Request) *service.Request) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, cl := range h.clients {
		if a := cl.auth; a != nil && a.Auth != nil && a.Auth.ID() == id && a.Auth.Collection != nil && a.Auth.Collection.ID == cid {
			cl.auth = fn(a)
		}
	}
}

// SendTo delivers a message to one client if it is subscribed to the
// topic, and reports whether it was delivered. A client whose buffer is
// full is disconnected.
func (h *Hub) SendTo(id string, m Message) bool {
	h.mu.RLock()
	c := h.clients[id]
	if c == nil {
		h.mu.RUnlock()
		return false
	}
	if _, ok := c.subs[m.Topic]; !ok {
		h.mu.RUnlock()
		return false
	}
	select {
	case c.ch <- m:
		h.mu.RUnlock()
		return true
	default:
	}
	h.mu.RUnlock()
	h.Disconnect(id) // too slow: it reconnects and resubscribes
	return false
}
