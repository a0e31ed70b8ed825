package api_test

import (
	"sync"
	"testing"

	"github.com/tortoise-dev/tortoise/internal/testkit"
)

// A reset or email-change token redeemed by several requests at once works
// for exactly one of them.
func TestSingleUseTokensUnderRace(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, s *testkit.Server) {
		usersSchema(t, s, "")
		liftLimits(t, s)
		base := "/api/collections/users/"
		signUp(t, s, "ann@example.com", "ann-password-1")
		s.Do("POST", base+"request-password-reset", "", map[string]any{"email": "ann@example.com"}, 204, nil)
		token := mailed(t, nextMail(t, s, "ann@example.com", ""), linkToken)

		const tries = 8
		var wg sync.WaitGroup
		statuses := make([]int, tries)
		for i := range tries {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				pw := "new-password-" + string(rune('a'+i))
				statuses[i] = s.Request("POST", base+"confirm-password-reset", "",
					map[string]any{"token": token, "password": pw, "passwordConfirm": pw}).Status
			}(i)
		}
		wg.Wait()
		ok := 0
		for _, st := range statuses {
			switch st {
			case 204:
				ok++
			case 400:
			default:
				t.Errorf("status %d", st)
			}
		}
		if ok != 1 {
			t.Fatalf("%d of %d concurrent redemptions succeeded: %v", ok, tries, statuses)
		}
	})
}

// Concurrent increments are never lost: each read-modify-write sees the
// previous one's result.
func TestConcurrentIncrements(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, s *testkit.Server) {
		blogSchema(t, s)
		post := create(t, s, "posts", map[string]any{"title": "counter", "slug": "c"})
		path := "/api/collections/posts/records/" + post["id"].(string)
		const n = 20
		var wg sync.WaitGroup
		for range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if r := s.Request("PATCH", path, s.Token, map[string]any{"views+": 1}); r.Status != 200 {
					t.Errorf("increment: %d %s", r.Status, r.Body)
				}
			}()
		}
		wg.Wait()
		var got map[string]any
		s.Super("GET", path, nil, 200, &got)
		if got["views"] != float64(n) {
			t.Fatalf("views = %v after %d concurrent increments", got["views"], n)
		}
	})
}
