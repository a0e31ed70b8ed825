package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"html/template"
	"net/http"
	"slices"
	"time"

	"github.com/tortoise-dev/tortoise/apikeys"
	"github.com/tortoise-dev/tortoise/core"
	"github.com/tortoise-dev/tortoise/guard"
	"github.com/tortoise-dev/tortoise/internal/jsonw"
	"github.com/tortoise-dev/tortoise/query"
	"github.com/tortoise-dev/tortoise/realtime"
	"github.com/tortoise-dev/tortoise/service"
	"github.com/tortoise-dev/tortoise/store"
)

// realtimeConnect opens a server-sent-events stream: first a PB_CONNECT
// event with the client id, then the messages of the topics the client
// subscribes to with POST /api/realtime. A plain HTTP/1 connection is
// handed over to the hub, which writes to it from then on (the response
// has no length and ends when the connection closes, as HTTP/1 allows);
// otherwise (HTTP/2, TLS) this goroutine serves the stream.
func (s *Server) realtimeConnect(w http.ResponseWriter, r *http.Request) error {
	ip, _ := s.clientIP(r) // unknown on error: counted with the other unknowns
	addr := guard.IPKey("realtime", ip)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	if r.ProtoMajor == 1 && r.TLS == nil && (r.Body == nil || r.Body == http.NoBody) {
		h.Set("Connection", "close")
		head := []byte("HTTP/1.1 200 OK\r\n")
		var hb bytes.Buffer
		_ = h.Write(&hb)
		head = append(append(head, hb.Bytes()...), "\r\n"...)
		if nc, _, err := http.NewResponseController(w).Hijack(); err == nil {
			s.hub.Attach(nc, head, addr)
			return nil
		}
		h.Del("Connection")
	}
	return s.streamRealtime(w, r, addr)
}

// streamRealtime serves a realtime stream from this goroutine, for
// connections the hub cannot take over.
func (s *Server) streamRealtime(w http.ResponseWriter, r *http.Request, addr string) error {
	rc := http.NewResponseController(w)
	// The stream outlives the server's read and write timeouts. Nothing
	// more is read from the client, so no read deadline (when it passes,
	// net/http cancels the request); each message gets its own write
	// deadline instead of the request's. Where the connection has no
	// deadlines (ErrNotSupported), there is nothing to lift.
	_ = rc.SetReadDeadline(time.Time{})
	id, ch, dropped := s.hub.Connect(addr)
	defer s.hub.Disconnect(id)
	// All messages waiting go out in one flush (one write to the socket):
	// a stream that fell behind catches up in fewer system calls.
	buf := make([]byte, 0, 512)
	// The write deadline and the idle timer move at most once a second:
	// re-arming two runtime timers for every event of every stream cost
	// more than the write itself with thousands of streams. A stream stuck
	// on a client that stopped reading still ends within the write timeout
	// (plus a second), and the hub drops it sooner when its buffer fills.
	var deadlineSet time.Time
	flush := func() error {
		if now := time.Now(); now.Sub(deadlineSet) > time.Second {
			_ = rc.SetWriteDeadline(now.Add(realtime.WriteTimeout))
			deadlineSet = now
		}
		_, err := w.Write(buf)
		buf = buf[:0]
		if err != nil {
			return err
		}
		return rc.Flush()
	}
	hello, _ := json.Marshal(map[string]string{"clientId": id})
	// Once the stream has begun only events can be written: a failed send
	// (the client stopped reading) ends it with nothing more to answer.
	buf = realtime.AppendFrame(buf, id, realtime.Message{Topic: "PB_CONNECT", Data: hello})
	if flush() != nil {
		return nil
	}
	idle := time.NewTimer(realtime.IdleTimeout)
	defer idle.Stop()
	idleSet := time.Now()
	for {
		select {
		case <-r.Context().Done():
			return nil
		case <-s.hub.Done():
			return nil
		case <-dropped: // too slow, or its subscriptions ended: reconnect
			return nil
		case <-idle.C:
			return nil
		case m := <-ch:
			buf = realtime.AppendFrame(buf, id, m)
		more:
			for len(buf) < 64<<10 {
				select {
				case m := <-ch:
					buf = realtime.AppendFrame(buf, id, m)
				default:
					break more
				}
			}
			if flush() != nil {
				return nil
			}
			if now := time.Now(); now.Sub(idleSet) > time.Second {
				idle.Reset(realtime.IdleTimeout)
				idleSet = now
			}
		}
	}
}

// maxSubscribeBody caps a subscription request's body.
const maxSubscribeBody = realtime.MaxSubscriptions*(realtime.MaxTopicLength+8) + 4096

// realtimeSubscribe sets a client's topics: {clientId, subscriptions}. The
// request's authorization becomes the client's: record events are checked
// against the rules as that caller. A client already authorized as one
// caller cannot be taken over by a request authorized as another.
func (s *Server) realtimeSubscribe(w http.ResponseWriter, r *http.Request) error {
	// The most topics a client may hold, at their longest, and the JSON
	// around them: read no more before refusing.
	r.Body = http.MaxBytesReader(w, r.Body, maxSubscribeBody)
	b, err := readBody(r)
	if err != nil {
		return err
	}
	var in struct {
		ClientID      string   `json:"clientId"`
		Subscriptions []string `json:"subscriptions"`
	}
	if err := json.Unmarshal(b, &in); err != nil || in.ClientID == "" {
		return core.FieldInvalid("clientId", "validation_required", "Give the clientId of a realtime connection.")
	}
	req := s.caller(r)
	req.Method = http.MethodGet
	if err := s.hub.Subscribe(in.ClientID, in.Subscriptions, req); err != nil {
		return err
	}
	if req.Auth != nil || req.Key != nil {
		// The dispatcher applies a change of the caller's account (or key)
		// to the clients it knows; one committed after the caller was
		// read above and dispatched before this client was, it missed.
		// Read the caller again, now the client is known.
		now := s.identify(r)
		s.hub.UpdateClient(in.ClientID, func(a *service.Request) *service.Request {
			switch {
			case a.Auth != nil && (now.Auth == nil || now.Auth.ID() != a.Auth.ID() || now.Auth.Collection.ID != a.Auth.Collection.ID):
				return nil // deleted, or its token key changed
			case a.Key != nil && (now.Key == nil || now.Key.ID != a.Key.ID):
				return nil // revoked
			}
			n := *a
			n.Auth, n.Key, n.Superuser = now.Auth, now.Key, now.Superuser
			return &n
		})
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// realtimeDispatch turns the change feed into realtime messages until the
// hub closes. If it falls behind the feed (or, on PostgreSQL, loses its
// notification connection), changes were missed: every client is
// disconnected, so SDKs reconnect, subscribe again and reload.
func (s *Server) realtimeDispatch() {
	for s.dispatchFrom(s.svc.Changes().Subscribe(dispatchBuffer)) {
		s.log.Warn("realtime fell behind the change feed: disconnecting clients so they resubscribe")
		s.hub.DisconnectAll()
	}
}

// dispatchFrom dispatches sub's changes until the hub closes (false), the
// store closes (false) or sub lags (true).
func (s *Server) dispatchFrom(sub *store.Sub) (lagged bool) {
	defer sub.Close()
	for {
		select {
		case <-s.hub.Done():
			return false
		case ch, ok := <-sub.C:
			if !ok {
				return errors.Is(sub.Err(), store.ErrLagged)
			}
			s.dispatch(ch)
		}
	}
}

// dispatchBuffer is how many changes may wait for the dispatcher.
const dispatchBuffer = 8192

// dispatchTimeout bounds the database work one change may cost (rules
// that follow relations, expand).
const dispatchTimeout = 5 * time.Second

// realtimeShare is the least share of the dispatcher's time the clients
// of one address may take. One dispatcher serves every client in turn:
// evaluating their rules and filters (through the database when they
// follow relations), reading their expands, encoding their messages.
// Without a share, one guest holding a thousand topics with distinct
// filters that follow relations, on a few connections, made every event
// wait for thousands of queries, for everyone. The dispatcher's time is
// divided among the addresses it served in the last second, each getting
// at least this much: one address alone (every client behind a proxy
// whose addresses are not trusted, say) may use all of it; an attacker
// beside others gets at most half. What an address takes beyond its
// share is a debt it pays back as time passes; while it owes more than a
// share, the event's subscribers from that address are disconnected
// instead of evaluated (as a client too slow to read is): their SDKs
// reconnect and subscribe again, and meet the same debt, so one
// evaluation that ran long keeps its address out for a while. Messages
// that other subscribers asked for the same way cost nothing more and
// count for no one.
const realtimeShare = 250 * time.Millisecond

// dispatchCosts is what each client address owes the dispatcher (see
// realtimeShare). Only the dispatcher's goroutine uses it.
type dispatchCosts struct {
	addrs   map[string]*addrCost
	active  int       // addresses served in the second before counted
	counted time.Time // when active was counted
	swept   time.Time // when addresses that owe nothing were last forgotten
}

type addrCost struct {
	debt   time.Duration // time taken, less the share of the time since
	at     time.Time     // when debt was last brought up to date
	served time.Time     // when an event last concerned one of its clients
	warned time.Time
}

// share is the time each address may take per second: the dispatcher's
// second divided among the addresses it served in the last one, at least
// realtimeShare.
func (d *dispatchCosts) share() time.Duration {
	return max(realtimeShare, time.Second/time.Duration(max(d.active, 1)))
}

// sweep counts, once a second, the addresses served in the last second
// (an event concerned one of their clients),
// and forgets, once a minute, those that owe nothing and were neither
// served nor warned for a minute.
func (d *dispatchCosts) sweep(now time.Time) {
	if now.Sub(d.counted) >= time.Second {
		n := 0
		for _, c := range d.addrs {
			if now.Sub(c.served) < time.Second {
				n++
			}
		}
		d.active, d.counted = n, now
	}
	if now.Sub(d.swept) < time.Minute {
		return
	}
	for k, c := range d.addrs {
		if now.Sub(c.served) > time.Minute && now.Sub(c.warned) > time.Minute && d.drained(c, now) == 0 {
			delete(d.addrs, k)
		}
	}
	d.swept = now
}

// drained is c's debt at now: what it owed, less the share of the time
// since.
func (d *dispatchCosts) drained(c *addrCost, now time.Time) time.Duration {
	paid := time.Duration(float64(now.Sub(c.at)) * float64(d.share()) / float64(time.Second))
	return max(0, c.debt-paid)
}

// of returns addr's cost entry with its debt brought up to now.
func (d *dispatchCosts) of(addr string, now time.Time) *addrCost {
	if d.addrs == nil {
		d.addrs = map[string]*addrCost{}
	}
	c := d.addrs[addr]
	if c == nil {
		c = &addrCost{at: now}
		d.addrs[addr] = c
	}
	c.debt, c.at = d.drained(c, now), now
	return c
}

// accountRecheck is how often the accounts of realtime clients are read
// again (see recheckAccounts).
const accountRecheck = 10 * time.Second

// recheckAccounts reads the accounts realtime clients are authorized as
// every accountRecheck, until the hub closes, and applies what changed as
// dispatch does. The change feed announces the writes of this server (and,
// on PostgreSQL, of every process); not those of another process on the
// same SQLite file, such as `tortoise superuser upsert` resetting a
// password to sign a thief out, whose stream went on otherwise.
func (s *Server) recheckAccounts() {
	t := time.NewTicker(accountRecheck)
	defer t.Stop()
	for {
		select {
		case <-s.hub.Done():
			return
		case <-t.C:
			s.recheckAccountsOnce()
		}
	}
}

func (s *Server) recheckAccountsOnce() {
	ctx, cancel := context.WithTimeout(context.Background(), accountRecheck)
	defer cancel()
	for cid, ids := range s.hub.Accounts() {
		c := s.svc.Schema().ByID(cid)
		if c == nil {
			continue
		}
		now := map[string]*core.Record{}
		for chunk := range slices.Chunk(ids, 500) {
			res, err := s.svc.Store().Find(ctx, store.Query{Collection: c, Where: query.In("id", chunk)})
			if err != nil {
				s.log.Warn("realtime: could not read the accounts of clients again", "collection", c.Name, "err", err)
				return
			}
			for _, r := range res.Records {
				now[r.ID()] = r
			}
		}
		for _, id := range ids {
			s.hub.UpdateAuth(cid, id, s.accountNow(now[id]))
		}
	}
}

// accountNow returns what a realtime client authorized as an account
// becomes once the account reads rec (nil: deleted): a guest when it is
// gone, its token key changed (a password change, "log out everywhere") or
// its collection's token secret changed, else the same caller with rec.
func (s *Server) accountNow(rec *core.Record) func(*service.Request) *service.Request {
	return func(a *service.Request) *service.Request {
		if rec == nil || rec.String("tokenKey") != a.Auth.String("tokenKey") || s.signedOut(a) {
			return nil
		}
		n := *a
		n.Auth = rec
		return &n
	}
}

// dispatch sends one change to its subscribers. Subscribers asking the
// same thing as the same caller (same identity, same topic and options)
// share one evaluation and one encoding. Clients whose address has used
// its share of the dispatcher (see realtimeShare), and clients whose
// message could not be made within dispatchTimeout, are disconnected
// rather than left without the event.
func (s *Server) dispatch(ch store.Change) {
	c := ch.Collection
	if c.IsAuth() && ch.Action != store.ActionCreate {
		// A changed account is what its clients' rules see from now on; a
		// deleted one, or one whose token key changed (a password change,
		// "log out everywhere"), makes them guests.
		rec := ch.Record
		if ch.Action == store.ActionDelete {
			rec = nil
		}
		s.hub.UpdateAuth(c.ID, ch.Record.ID(), s.accountNow(rec))
	}
	if c.Name == apikeys.CollectionName && ch.Action != store.ActionCreate {
		// A revoked key stops working at once, streams included; a changed
		// one allows from now on what its new scope says.
		s.hub.UpdateKey(ch.Record.ID(), func(a *service.Request) *service.Request {
			if ch.Action == store.ActionDelete {
				return nil
			}
			key := apikeys.KeyOf(ch.Record)
			if key == nil {
				return nil
			}
			n := *a
			n.Key, n.Superuser = key, key.Superuser
			return &n
		})
	}
	subs := s.hub.Subscribers(c, ch.Record.ID())
	if len(subs) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), dispatchTimeout)
	defer cancel()
	// Subscribers come grouped by client, and clients asking the same
	// thing usually come in runs: compare with the last key before
	// looking in the map.
	type asked struct {
		identity, topic string
	}
	msgs := map[asked][]byte{}
	var last asked
	var lastMsg []byte
	out := make([]realtime.Delivery, 0, len(subs))
	now := time.Now()
	s.dispatchCosts.sweep(now)
	lastAddr := "\x00" // no address
	var shed map[*realtime.Client]bool
	drop := func(c *realtime.Client) {
		if shed == nil {
			shed = map[*realtime.Client]bool{}
		}
		shed[c] = true
	}
	for i, sub := range subs {
		if shed[sub.Client] {
			continue
		}
		if a := sub.Client.Addr; a != lastAddr {
			// Served, whoever pays for its messages: the addresses served
			// divide the dispatcher among them.
			s.dispatchCosts.of(a, now).served = now
			lastAddr = a
		}
		if s.signedOut(sub.Auth) {
			sub.Auth, sub.Identity = nil, ""
		}
		key := asked{sub.Identity, sub.Topic.Name}
		msg := lastMsg
		if i == 0 || key != last {
			var done bool
			if msg, done = msgs[key]; !done {
				start := time.Now()
				cost := s.dispatchCosts.of(sub.Client.Addr, start)
				if cost.debt > s.dispatchCosts.share() || ctx.Err() != nil {
					drop(sub.Client)
					continue
				}
				msg = s.realtimeMessage(ctx, ch, sub)
				cost.debt += time.Since(start)
				if ctx.Err() != nil {
					// Cut short: whether it would have been sent is unknown.
					drop(sub.Client)
					continue
				}
				msgs[key] = msg
			}
			last, lastMsg = key, msg
		}
		if msg != nil {
			out = append(out, realtime.Delivery{Client: sub.Client, Msg: realtime.Message{Topic: sub.Topic.Name, Data: msg}})
		}
	}
	if len(shed) > 0 {
		s.shedClients(shed, ctx.Err() != nil)
	}
	s.hub.Deliver(out)
}

// shedClients disconnects clients dispatch could not serve: their
// address took its share of the dispatcher, or (timedOut) the
// event's evaluations ran past dispatchTimeout. They reconnect and
// subscribe again. Warned once a minute per address.
func (s *Server) shedClients(shed map[*realtime.Client]bool, timedOut bool) {
	addrs := map[string]int{}
	for c := range shed {
		s.hub.Disconnect(c.ID)
		addrs[c.Addr]++
	}
	now := time.Now()
	for addr, n := range addrs {
		cost := s.dispatchCosts.of(addr, now)
		if now.Sub(cost.warned) < time.Minute {
			continue
		}
		cost.warned = now
		if timedOut {
			s.log.Warn("realtime: an event's rules and filters took longer than the dispatch timeout; disconnecting the clients not yet served",
				"address", addr, "clients", n, "timeout", dispatchTimeout)
		} else {
			s.log.Warn("realtime: the clients of one address took more than their share of the dispatcher; disconnecting them",
				"address", addr, "clients", n, "share", s.dispatchCosts.share())
		}
	}
}

// signedOut reports whether the account a subscribed as can no longer
// be authorized with its token: its collection is gone, or the
// collection's token secret changed (every token of it revoked at once).
func (s *Server) signedOut(a *service.Request) bool {
	if a == nil || a.Auth == nil {
		return false
	}
	old := a.Auth.Collection
	cur := s.svc.Schema().ByID(old.ID)
	return cur == nil || cur.Auth == nil || old.Auth == nil || cur.Auth.AuthToken.Secret != old.Auth.AuthToken.Secret
}

// realtimeMessage is the data of one change for one subscription, or nil
// when the subscriber may not see it.
func (s *Server) realtimeMessage(ctx context.Context, ch store.Change, sub realtime.Subscriber) []byte {
	req := &service.Request{Method: http.MethodGet, Query: sub.Topic.Query, Headers: sub.Topic.Headers}
	if a := sub.Auth; a != nil {
		req.Superuser, req.Auth, req.Key = a.Superuser, a.Auth, a.Key
	}
	q := sub.Topic.Query
	ok, err := s.records.Visible(ctx, req, ch.Collection, ch.Record, ch.Action == store.ActionDelete, sub.Topic.RecordID == "*", q["filter"])
	if err != nil || !ok {
		return nil
	}
	sel, err := parseFields(q["fields"])
	if err != nil {
		return nil
	}
	rec := ch.Record.Clone()
	if exp := q["expand"]; exp != "" {
		if err := s.records.Expand(ctx, req, []*core.Record{rec}, exp); err != nil {
			return nil
		}
	}
	b := make([]byte, 0, 512)
	b = append(b, `{"action":`...)
	b = jsonw.String(b, ch.Action)
	b = append(b, `,"record":`...)
	b = appendRecord(b, rec, viewerOf(req), sel)
	return append(b, '}')
}

var redirectPage = template.Must(template.New("oauth2").Parse(`<!doctype html>
<html><head><meta charset="utf-8"><title>{{if .OK}}Signed in{{else}}Sign-in failed{{end}}</title></head>
<body><p>{{if .OK}}Authentication completed: you can go back to the app if this window does not close by itself.{{else}}Authentication failed: {{.Error}}{{end}}</p>
<script>window.close()</script></body></html>`))

// oauth2Redirect is where providers send the user back in the SDKs'
// all-in-one OAuth2 flow: it hands the code to the realtime client whose id
// is the state, and shows a page that closes itself. Apple posts a form.
func (s *Server) oauth2Redirect(w http.ResponseWriter, r *http.Request) error {
	if err := r.ParseForm(); err != nil {
		return core.Invalid("Malformed redirect parameters.")
	}
	state, code, errMsg := r.Form.Get("state"), r.Form.Get("code"), r.Form.Get("error")
	if state == "" {
		errMsg = "missing state"
	}
	data, _ := json.Marshal(map[string]string{"state": state, "code": code, "error": errMsg})
	delivered := state != "" && s.hub.SendTo(state, realtime.Message{Topic: "@oauth2", Data: data})
	status := http.StatusOK
	if !delivered {
		status = http.StatusBadRequest
		if errMsg == "" {
			errMsg = "the app that started this sign-in is no longer waiting for it"
		}
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Security-Policy", "default-src 'none'; script-src 'unsafe-inline'")
	w.WriteHeader(status)
	// The page is already on its way: a failure to finish it has no answer.
	_ = redirectPage.Execute(w, map[string]any{"OK": delivered && errMsg == "", "Error": errMsg})
	return nil
}
