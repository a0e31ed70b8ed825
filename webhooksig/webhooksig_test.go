package webhooksig

import (
	"errors"
	"net/http"
	"testing"
)

func TestEventID(t *testing.T) {
	t.Parallel()
	withID := http.Header{}
	withID.Set(HeaderID, testID)
	tests := []struct {
		name    string
		scheme  Scheme
		header  http.Header
		body    string
		want    string
		wantErr error // nil with want "": any error
	}{
		{name: "standard", scheme: StandardWebhooks, header: withID, body: "not json", want: testID},
		{name: "standard without id", scheme: StandardWebhooks, header: http.Header{}, wantErr: ErrMissingHeader},
		{name: "stripe", scheme: Stripe, header: withID, body: `{"object":"event","id":"evt_1","data":{"id":"pi_1"}}`, want: "evt_1"},
		{name: "stripe without id", scheme: Stripe, body: `{"object":"event"}`, wantErr: ErrMalformed},
		{name: "stripe id not a string", scheme: Stripe, body: `{"id":42}`, wantErr: ErrMalformed},
		{name: "stripe body not json", scheme: Stripe, body: `evt_1`, wantErr: ErrMalformed},
		{name: "unknown scheme", scheme: 0, header: withID},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := EventID(tt.scheme, tt.header, []byte(tt.body))
			if tt.want != "" {
				if err != nil || got != tt.want {
					t.Fatalf("EventID = %q, %v; want %q", got, err, tt.want)
				}
				return
			}
			if err == nil || tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Fatalf("EventID = %q, %v; want error %v", got, err, tt.wantErr)
			}
		})
	}
}
