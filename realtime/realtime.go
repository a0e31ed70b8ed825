// Package realtime keeps the server-sent-event clients of /api/realtime and
// delivers messages to the ones subscribed to a topic. It is in-process:
// in the scaled-out mode a client's events must come from the process it
// is connected to (fanning out through PostgreSQL or Redis is future work).
package realtime

import (
	"sync"

	"github.com/tortoise-dev/tortoise/core"
)

// Message is one event for a client: its topic (the SSE event name) and
// JSON data.
type Message struct {
	Topic string
	Data  []byte
}

// MaxSubscriptions caps the topics one client may subscribe to.
const MaxSubscriptions = 1000

// clientBuffer is how many messages may wait for a slow client before
// newer ones are dropped for it.
const clientBuffer = 64

// Hub is the set of connected clients.
type Hub struct {
	mu      sync.RWMutex
	clients map[string]*client
	done    chan struct{}
	once    sync.Once
}

type client struct {
	ch   chan Message
	subs map[string]bool
}

// NewHub returns an empty hub.
func NewHub() *Hub { return &Hub{clients: map[string]*client{}, done: make(chan struct{})} }

// Close tells every connection to end (the server is shutting down, and
// streams would otherwise keep it waiting).
func (h *Hub) Close() { h.once.Do(func() { close(h.done) }) }

// Done is closed when the hub is closed.
func (h *Hub) Done() <-chan struct{} { return h.done }

// Connect registers a new client and returns its id and the channel its
// messages arrive on. Call Disconnect when the connection ends.
func (h *Hub) Connect() (string, <-chan Message) {
	id := core.RandomString(40, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
	c := &client{ch: make(chan Message, clientBuffer), subs: map[string]bool{}}
	h.mu.Lock()
	h.clients[id] = c
	h.mu.Unlock()
	return id, c.ch
}

// Disconnect forgets a client.
func (h *Hub) Disconnect(id string) {
	h.mu.Lock()
	delete(h.clients, id)
	h.mu.Unlock()
}

// Subscribe replaces a client's subscriptions. Errors: KindNotFound for an
// unknown client, KindInvalid for too many topics.
func (h *Hub) Subscribe(id string, topics []string) error {
	if len(topics) > MaxSubscriptions {
		return core.FieldInvalid("subscriptions", "validation_too_many", "Too many subscriptions.")
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	c := h.clients[id]
	if c == nil {
		return core.NotFound("Missing or invalid client id.")
	}
	c.subs = make(map[string]bool, len(topics))
	for _, t := range topics {
		c.subs[t] = true
	}
	return nil
}

// SendTo delivers a message to one client if it is subscribed to the
// topic, and reports whether it was delivered.
func (h *Hub) SendTo(id string, m Message) bool {
	h.mu.RLock()
	defer h.mu.RUnlock()
	c := h.clients[id]
	if c == nil || !c.subs[m.Topic] {
		return false
	}
	select {
	case c.ch <- m:
		return true
	default:
		return false // the client is not keeping up
	}
}
