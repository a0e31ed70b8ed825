package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"
)

// pwCollection is the auth collection whose users change their passwords
// in the create-pwload scenario.
const pwCollection = "bench_users"

// pwChange names the background load in the table and the JSON report.
const pwChange = "password-change"

// pwUser is one background client's account. Only its own worker touches
// it while a load runs, and runs follow one another, so its state carries
// over from one run to the next.
type pwUser struct {
	id    string
	pw    [2]string // the two passwords it alternates between
	cur   int       // index in pw of the password the server holds
	token string    // an auth token for the record, valid until the next change
}

// passwordLoad is the background traffic of create-pwload: each user, in a
// loop, changes its own password the way a user does from an account page,
// PATCH /api/collections/{c}/records/{id} with password, passwordConfirm
// and oldPassword, under its own token. The server checks the old password
// and hashes the new one, two bcrypt computations, and writes the record.
//
// A change rotates the record's token key, which kills the token it was
// made with. A user would log in again, but a password login is
// rate-limited per client address (Tortoise allows 10 a minute by
// default) and every client here shares 127.0.0.1, so the superuser
// impersonates the user instead: a token for the record without its
// password, unthrottled, and no third bcrypt. Only the PATCH is timed.
type passwordLoad struct {
	admin *apiClient // superuser: new tokens, and repairs after a failed change
	users *apiClient // the users' connections, one per user; no token of its own
	coll  string
	list  []*pwUser
}

// setupPasswordLoad (re)creates the auth collection coll with n users and
// takes a token for each. The superuser creates them: sign-ups from one
// address would soon be refused by the server's rate limits.
func setupPasswordLoad(ctx context.Context, admin *apiClient, coll string, n int, out io.Writer) (*passwordLoad, error) {
	start := time.Now()
	exists, err := admin.collectionExists(ctx, coll)
	if err != nil {
		return nil, fmt.Errorf("look up collection %q: %w", coll, err)
	}
	if exists {
		if err := admin.deleteCollection(ctx, coll); err != nil {
			return nil, fmt.Errorf("delete collection %q: %w", coll, err)
		}
	}
	if err := admin.createAuthCollection(ctx, coll); err != nil {
		return nil, fmt.Errorf("create auth collection %q: %w", coll, err)
	}
	p := &passwordLoad{admin: admin, users: newAPIClient(admin.base, n), coll: coll}
	for i := range n {
		u := &pwUser{pw: [2]string{fmt.Sprintf("bench-%d-first-pw", i), fmt.Sprintf("bench-%d-second-pw", i)}}
		if u.id, err = admin.createUser(ctx, coll, fmt.Sprintf("bench-user-%d@example.com", i), u.pw[0]); err != nil {
			return nil, fmt.Errorf("create user %d of %d: %w", i+1, n, err)
		}
		if u.token, err = admin.impersonate(ctx, coll, u.id); err != nil {
			return nil, fmt.Errorf("token for user %d of %d: %w", i+1, n, err)
		}
		p.list = append(p.list, u)
	}
	fmt.Fprintf(out, "password load: %d users in %q, created in %s\n", n, coll, time.Since(start).Round(time.Millisecond))
	return p, nil
}

// clients is the number of users changing passwords at once.
func (p *passwordLoad) clients() int { return len(p.list) }

// start changes passwords in the background for warmup+duration from now
// (the measured load starting at the same moment, within microseconds,
// covers the same window). wait waits until every user's last change has
// ended and returns the changes that started after the warm-up.
func (p *passwordLoad) start(ctx context.Context, warmup, duration time.Duration) (wait func() *loadResult) {
	measureFrom := time.Now().Add(warmup)
	end := measureFrom.Add(duration)
	stats := make([]*workerStats, len(p.list))
	var wg sync.WaitGroup
	for i, u := range p.list {
		w := &workerStats{}
		stats[i] = w
		wg.Go(func() { p.work(ctx, u, measureFrom, end, w) })
	}
	return func() *loadResult {
		wg.Wait()
		return mergeStats(stats, measureFrom)
	}
}

// work changes u's password until end. A change in flight at end is
// finished, not cut off, so the next run starts from a known password.
func (p *passwordLoad) work(ctx context.Context, u *pwUser, measureFrom, end time.Time, w *workerStats) {
	fail := func(counted bool, err error) {
		if counted && w.res.FirstError == "" {
			w.res.FirstError = err.Error()
		}
	}
	for {
		t0 := time.Now()
		if !t0.Before(end) || ctx.Err() != nil {
			return
		}
		counted := !t0.Before(measureFrom)
		next := 1 - u.cur
		err := p.users.as(u.token).changePassword(ctx, p.coll, u.id, u.pw[u.cur], u.pw[next])
		t1 := time.Now()
		if ctx.Err() != nil {
			return // interrupted: the run is over
		}
		if counted {
			w.res.Hist.record(t1.Sub(t0))
			w.lastDone = t1
			var ae *apiError
			switch {
			case err == nil:
				w.res.OK++
			case errors.As(err, &ae):
				w.res.Status++
			default:
				w.res.Transport++
			}
			if err != nil {
				fail(true, err)
			}
		}
		if err == nil {
			u.cur = next
			if u.token, err = p.admin.impersonate(ctx, p.coll, u.id); err != nil {
				// The next change fails with the dead token and repairs.
				fail(counted, fmt.Errorf("new token after a change: %w", err))
			}
			continue
		}
		if err := p.repair(ctx, u); err != nil {
			fail(counted, err)
			time.Sleep(10 * time.Millisecond) // do not spin on a refusing server
		}
	}
}

// repair brings the server back to what u believes after a change whose
// outcome is unknown (it may have been applied before its answer was
// lost): the superuser sets u's current password, which needs no old
// one, and takes a fresh token.
func (p *passwordLoad) repair(ctx context.Context, u *pwUser) error {
	if err := p.admin.changePassword(ctx, p.coll, u.id, "", u.pw[u.cur]); err != nil {
		return fmt.Errorf("reset the password after a failed change: %w", err)
	}
	tok, err := p.admin.impersonate(ctx, p.coll, u.id)
	if err != nil {
		return fmt.Errorf("new token after a reset: %w", err)
	}
	u.token = tok
	return nil
}
