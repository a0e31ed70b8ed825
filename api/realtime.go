package api

import (
	"encoding/json"
	"fmt"
	"html/template"
	"net/http"
	"time"

	"github.com/tortoise-dev/tortoise/core"
	"github.com/tortoise-dev/tortoise/realtime"
)

// realtimeIdle closes a realtime connection that received nothing for this
// long; clients reconnect.
const realtimeIdle = 5 * time.Minute

// realtimeWrite is how long one realtime message may take to reach the
// client: one that stops reading is dropped.
const realtimeWrite = 30 * time.Second

// realtimeConnect holds a server-sent-events stream open: first a
// PB_CONNECT event with the client id, then the messages of the topics the
// client subscribes to with POST /api/realtime.
func (s *Server) realtimeConnect(w http.ResponseWriter, r *http.Request) error {
	rc := http.NewResponseController(w)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	// The stream outlives the server's read and write timeouts. Nothing
	// more is read from the client, so no read deadline (when it passes,
	// net/http cancels the request); each message gets its own write
	// deadline instead of the request's. Where the connection has no
	// deadlines (ErrNotSupported), there is nothing to lift.
	_ = rc.SetReadDeadline(time.Time{})
	id, ch := s.hub.Connect()
	defer s.hub.Disconnect(id)
	send := func(m realtime.Message) error {
		_ = rc.SetWriteDeadline(time.Now().Add(realtimeWrite))
		if _, err := fmt.Fprintf(w, "id:%s\nevent:%s\ndata:%s\n\n", id, m.Topic, m.Data); err != nil {
			return err
		}
		return rc.Flush()
	}
	hello, _ := json.Marshal(map[string]string{"clientId": id})
	// Once the stream has begun only events can be written: a failed send
	// (the client stopped reading) ends it with nothing more to answer.
	if send(realtime.Message{Topic: "PB_CONNECT", Data: hello}) != nil {
		return nil
	}
	idle := time.NewTimer(realtimeIdle)
	defer idle.Stop()
	for {
		select {
		case <-r.Context().Done():
			return nil
		case <-s.hub.Done():
			return nil
		case <-idle.C:
			return nil
		case m := <-ch:
			if send(m) != nil {
				return nil
			}
			idle.Reset(realtimeIdle)
		}
	}
}

// realtimeSubscribe sets a client's topics: {clientId, subscriptions}.
func (s *Server) realtimeSubscribe(w http.ResponseWriter, r *http.Request) error {
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
	for _, t := range in.Subscriptions {
		if t != "@oauth2" {
			// Record subscriptions come with the realtime feature; until
			// then, say so rather than accept and stay silent.
			return core.FieldInvalid("subscriptions", "validation_unsupported_topic", fmt.Sprintf("Topic %q is not supported yet.", t))
		}
	}
	if err := s.hub.Subscribe(in.ClientID, in.Subscriptions); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
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
