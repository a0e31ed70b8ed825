package realtime

import (
	"fmt"
	"net"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/tortoise-dev/tortoise/core"
	"github.com/tortoise-dev/tortoise/service"
)

// IdleTimeout closes a stream that received nothing for this long; clients
// reconnect.
const IdleTimeout = 5 * time.Minute

// WriteTimeout is how long one message may take to reach a client: one
// that stops reading is dropped.
const WriteTimeout = 30 * time.Second

// Hub is the set of connected clients. Messages reach them in two ways:
//
//   - A stream served by a goroutine of its own (Connect): the hub hands
//     it messages over a buffered channel. Used where the connection
//     cannot be taken over (HTTP/2, TLS).
//   - A plain HTTP/1 connection taken over from net/http (Attach): the hub
//     writes to it itself, from a few writer goroutines (one per CPU) that
//     each own a share of the clients. Such a client costs no goroutine
//     and no net/http buffers while it waits, and an event reaches
//     thousands of them without waking a goroutine per client.
type Hub struct {
	mu      sync.RWMutex
	clients map[string]*Client
	// byCollection indexes the record topics by their collection as
	// written, lowercased: a change concerns only the clients found under
	// its collection's name and id.
	byCollection map[string]map[*Client][]*Topic
	// subsByAddr counts the topics held by the clients of each address.
	subsByAddr map[string]int
	done       chan struct{}
	once       sync.Once

	shards []chan []Delivery // the writer goroutines' queues
	next   int               // the shard of the next client, guarded by mu

	sweep, idle time.Duration // sweepEvery and IdleTimeout, shorter in tests
}

// Client is one connection. Its fields other than ID are guarded by the
// hub; read them through Subscribers.
type Client struct {
	ID string
	// Addr names where the client connects from (for the api package, the
	// key of its address), fixed at Connect or Attach.
	Addr     string
	shard    int
	ch       chan Message // the messages of a Connect client
	conn     *conn        // the connection of an Attach client
	gone     chan struct{}
	subs     map[string]*Topic
	auth     *service.Request
	identity string // Identity(auth)
}

// Delivery is one message for one client.
type Delivery struct {
	Client *Client
	Msg    Message
}

// shardQueue is how many batches may wait for one writer goroutine. The
// dispatcher waits when it is full, and the change feed tells it when it
// fell too far behind (every client then reconnects).
const shardQueue = 1024

// sweepEvery is how often attached connections are checked for a client
// that went away and for idleness.
const sweepEvery = 5 * time.Second

// NewHub returns an empty hub with its writer goroutines running; Close
// stops them.
func NewHub() *Hub { return newHub(sweepEvery, IdleTimeout) }

func newHub(sweep, idle time.Duration) *Hub {
	h := &Hub{clients: map[string]*Client{}, byCollection: map[string]map[*Client][]*Topic{}, subsByAddr: map[string]int{}, done: make(chan struct{}), sweep: sweep, idle: idle}
	for range max(runtime.GOMAXPROCS(0), 1) {
		q := make(chan []Delivery, shardQueue)
		h.shards = append(h.shards, q)
		go h.writer(q)
	}
	go h.sweeper()
	return h
}

// Close ends every stream (the server is shutting down, and streams would
// otherwise keep it waiting) and stops the hub's goroutines.
func (h *Hub) Close() {
	h.once.Do(func() {
		close(h.done)
		h.DisconnectAll()
	})
}

// Done is closed when the hub is closed.
func (h *Hub) Done() <-chan struct{} { return h.done }

// Connect registers a new client served by the caller's goroutine and
// returns it, with the channel its messages arrive on and one that is
// closed if the hub drops it (it was too slow). addr becomes its Addr.
// Call Disconnect when the connection ends.
func (h *Hub) Connect(addr string) (id string, messages <-chan Message, dropped <-chan struct{}) {
	c := &Client{Addr: addr, ch: make(chan Message, clientBuffer)}
	h.register(c)
	return c.ID, c.ch, c.gone
}

// Attach registers a new client on a connection taken over from the HTTP
// server: header is the response head, written before the PB_CONNECT
// message that introduces the client; addr becomes its Addr. From then on
// the hub writes to the connection and closes it when the client goes
// away, idles, falls behind or the hub closes.
func (h *Hub) Attach(nc net.Conn, header []byte, addr string) (id string) {
	// The HTTP server's read and write deadlines do not apply to a stream.
	_ = nc.SetDeadline(time.Time{})
	c := &Client{Addr: addr}
	c.conn = newConn(nc, func() { h.Disconnect(c.ID) })
	// Registered before the first write: the client subscribes as soon as
	// it reads PB_CONNECT and must be found then.
	h.register(c)
	first := append(header, AppendFrame(nil, c.ID, Message{Topic: "PB_CONNECT", Data: connectData(c.ID)})...)
	if !c.conn.write(first) {
		h.Disconnect(c.ID)
	}
	return c.ID
}

// connectData is the data of the PB_CONNECT message.
func connectData(id string) []byte {
	return []byte(`{"clientId":"` + id + `"}`) // ids are alphanumeric
}

func (h *Hub) register(c *Client) {
	c.ID = core.RandomString(40, core.Alphanumeric)
	c.gone = make(chan struct{})
	c.subs = map[string]*Topic{}
	h.mu.Lock()
	defer h.mu.Unlock()
	c.shard = h.next
	h.next = (h.next + 1) % len(h.shards)
	h.clients[c.ID] = c
	select {
	case <-h.done: // closed meanwhile: nothing will ever write to it
		h.dropLocked(c.ID)
	default:
	}
}

// AppendFrame appends one message in the event-stream format to b.
func AppendFrame(b []byte, clientID string, m Message) []byte {
	b = append(b, "id:"...)
	b = append(b, clientID...)
	b = append(b, "\nevent:"...)
	b = append(b, m.Topic...)
	b = append(b, "\ndata:"...)
	b = append(b, m.Data...)
	return append(b, "\n\n"...)
}

// Disconnect forgets a client (and closes its connection if attached).
func (h *Hub) Disconnect(id string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.dropLocked(id)
}

func (h *Hub) dropLocked(id string) {
	if c := h.clients[id]; c != nil {
		delete(h.clients, id)
		h.unindexLocked(c)
		close(c.gone)
		if c.conn != nil {
			c.conn.close()
		}
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
	subs := make(map[string]*Topic, len(topics))
	for _, s := range topics {
		t, err := ParseTopic(s)
		if err != nil {
			return err
		}
		subs[s] = &t
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	c := h.clients[id]
	if c == nil {
		return core.NotFound("Missing or invalid client id.")
	}
	identity := Identity(auth)
	if c.identity != "" && c.identity != identity {
		return core.Forbidden("The current and the previous request authorization don't match.")
	}
	if c.Addr != "" && h.subsByAddr[c.Addr]-len(c.subs)+len(subs) > MaxAddressSubscriptions {
		return core.FieldInvalid("subscriptions", "validation_too_many",
			fmt.Sprintf("The clients of this address hold too many subscriptions (at most %d together).", MaxAddressSubscriptions))
	}
	h.unindexLocked(c)
	c.subs, c.auth, c.identity = subs, auth, identity
	if c.Addr != "" {
		h.subsByAddr[c.Addr] += len(subs)
	}
	for _, t := range subs {
		if t.Collection == "" {
			continue
		}
		key := strings.ToLower(t.Collection)
		m := h.byCollection[key]
		if m == nil {
			m = map[*Client][]*Topic{}
			h.byCollection[key] = m
		}
		m[c] = append(m[c], t)
	}
	return nil
}

// unindexLocked takes c's topics out of byCollection and its address's
// count.
func (h *Hub) unindexLocked(c *Client) {
	if c.Addr != "" && len(c.subs) > 0 {
		if h.subsByAddr[c.Addr] -= len(c.subs); h.subsByAddr[c.Addr] <= 0 {
			delete(h.subsByAddr, c.Addr)
		}
	}
	for _, t := range c.subs {
		if t.Collection == "" {
			continue
		}
		key := strings.ToLower(t.Collection)
		if m := h.byCollection[key]; m != nil {
			delete(m, c)
			if len(m) == 0 {
				delete(h.byCollection, key)
			}
		}
	}
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
// Topic is shared: read it, do not change it.
type Subscriber struct {
	Client   *Client
	Auth     *service.Request
	Identity string // Identity(Auth)
	Topic    *Topic
}

// Subscribers returns the subscriptions to records of c that concern the
// record id: its collection's "*" topics and the record's own.
func (h *Hub) Subscribers(c *core.Collection, recordID string) []Subscriber {
	h.mu.RLock()
	defer h.mu.RUnlock()
	var out []Subscriber
	find := func(key string) {
		for cl, topics := range h.byCollection[key] {
			for _, t := range topics {
				if t.Collection != c.Name && t.Collection != c.ID && !strings.EqualFold(t.Collection, c.Name) {
					continue
				}
				if t.RecordID == "*" || t.RecordID == recordID {
					if out == nil {
						out = make([]Subscriber, 0, len(h.byCollection[key]))
					}
					out = append(out, Subscriber{Client: cl, Auth: cl.auth, Identity: cl.identity, Topic: t})
				}
			}
		}
	}
	name, id := strings.ToLower(c.Name), strings.ToLower(c.ID)
	find(name)
	if id != name {
		find(id)
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
			cl.identity = Identity(cl.auth)
		}
	}
}

// Accounts returns the ids of the accounts clients are authorized as, by
// collection id, each once.
func (h *Hub) Accounts() map[string][]string {
	h.mu.RLock()
	defer h.mu.RUnlock()
	seen := map[string]bool{}
	out := map[string][]string{}
	for _, cl := range h.clients {
		if a := cl.auth; a != nil && a.Auth != nil && a.Auth.Collection != nil {
			cid, id := a.Auth.Collection.ID, a.Auth.ID()
			if !seen[cid+"/"+id] {
				seen[cid+"/"+id] = true
				out[cid] = append(out[cid], id)
			}
		}
	}
	return out
}

// UpdateClient applies fn to the identity of the client id, as UpdateAuth
// does for the clients of one account: for a subscription that read its
// caller before a change the dispatcher applied to the clients it knew.
func (h *Hub) UpdateClient(id string, fn func(*service.Request) *service.Request) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if cl := h.clients[id]; cl != nil && cl.auth != nil {
		cl.auth = fn(cl.auth)
		cl.identity = Identity(cl.auth)
	}
}

// UpdateKey applies fn to the identity of every client authorized by the
// API key id: fn returns the identity to keep (nil: a guest from now on),
// as when the key is narrowed or revoked.
func (h *Hub) UpdateKey(id string, fn func(*service.Request) *service.Request) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, cl := range h.clients {
		if a := cl.auth; a != nil && a.Key != nil && a.Key.ID == id {
			cl.auth = fn(a)
			cl.identity = Identity(cl.auth)
		}
	}
}

// Deliver hands each message to its client without waiting for any: the
// writer goroutines write them, in the order given for any one client. A
// client too slow to take them is disconnected.
func (h *Hub) Deliver(ds []Delivery) {
	if len(ds) == 0 {
		return
	}
	if len(h.shards) == 1 {
		h.enqueue(h.shards[0], ds)
		return
	}
	parts := make([][]Delivery, len(h.shards))
	for _, d := range ds {
		parts[d.Client.shard] = append(parts[d.Client.shard], d)
	}
	for i, p := range parts {
		if len(p) > 0 {
			h.enqueue(h.shards[i], p)
		}
	}
}

func (h *Hub) enqueue(q chan<- []Delivery, ds []Delivery) {
	select {
	case q <- ds:
	case <-h.done:
	}
}

// writer delivers the batches of one shard until the hub closes.
func (h *Hub) writer(q <-chan []Delivery) {
	var scratch []byte
	for {
		select {
		case <-h.done:
			return
		case ds := <-q:
			for _, d := range ds {
				scratch = h.deliver(d.Client, d.Msg, scratch[:0])
			}
		}
	}
}

// deliver gives m to c, disconnecting c if it cannot take it. scratch is a
// buffer to frame the message in; the grown buffer is returned.
func (h *Hub) deliver(c *Client, m Message, scratch []byte) []byte {
	select {
	case <-c.gone:
		return scratch
	default:
	}
	ok := true
	if c.conn != nil {
		scratch = AppendFrame(scratch, c.ID, m)
		ok = c.conn.write(scratch)
	} else {
		select {
		case c.ch <- m:
		default:
			ok = false
		}
	}
	if !ok {
		h.Disconnect(c.ID) // too slow or gone: it reconnects and resubscribes
	}
	return scratch
}

// SendTo delivers a message to one client if it is subscribed to the
// topic, and reports whether it was delivered. A client that cannot take
// it is disconnected.
func (h *Hub) SendTo(id string, m Message) bool {
	h.mu.RLock()
	c := h.clients[id]
	subscribed := c != nil && c.subs[m.Topic] != nil
	h.mu.RUnlock()
	if !subscribed {
		return false
	}
	if c.conn != nil {
		// Through the client's writer, so it cannot overtake messages
		// already handed to it.
		h.enqueue(h.shards[c.shard], []Delivery{{Client: c, Msg: m}})
		return true
	}
	select {
	case c.ch <- m:
		return true
	default:
	}
	h.Disconnect(id)
	return false
}

// sweeper closes attached connections whose client went away or that
// stayed idle too long, until the hub closes. (Connect clients watch for
// both themselves.)
func (h *Hub) sweeper() {
	t := time.NewTicker(h.sweep)
	defer t.Stop()
	var conns []*Client
	for {
		select {
		case <-h.done:
			return
		case <-t.C:
		}
		conns = conns[:0]
		h.mu.RLock()
		for _, c := range h.clients {
			if c.conn != nil {
				conns = append(conns, c)
			}
		}
		h.mu.RUnlock()
		idleSince := time.Now().Add(-h.idle).UnixNano()
		for _, c := range conns {
			if c.conn.lastWrite.Load() < idleSince || !c.conn.alive() {
				h.Disconnect(c.ID)
			}
		}
	}
}
