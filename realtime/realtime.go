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
	"unicode"

	"github.com/tortoise-dev/tortoise/core"
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
	// MaxAddressSubscriptions caps the topics the clients of one address
	// (IPv6: one /64) hold together: each costs the server a few KB, and
	// an address may open hundreds of connections.
	MaxAddressSubscriptions = 20_000
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
	if strings.IndexFunc(s, unicode.IsControl) >= 0 {
		// The topic is written back as each event's "event:" line: a
		// line break in it would start a frame of the sender's choosing.
		return t, core.FieldInvalid("subscriptions", "validation_invalid_topic", "A topic may not hold control characters (line breaks, tabs, NUL).")
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
