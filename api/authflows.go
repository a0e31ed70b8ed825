package api

import (
	"encoding/json"
	"net/http"
	"strings"

	"github.com/tortoise-dev/tortoise/core"
	"github.com/tortoise-dev/tortoise/guard"
)

// The mail-based auth routes of PocketBase: request-verification,
// confirm-verification, request-password-reset, confirm-password-reset,
// request-email-change, confirm-email-change, request-otp and
// auth-with-otp. The request-* routes answer the same whether or not the
// email belongs to an account.

// maxFlowInput caps each string of these bodies: emails, tokens, codes
// and passwords are all far shorter.
const maxFlowInput = 2048

// authCollection returns the auth collection named by the path.
func (s *Server) authCollection(r *http.Request) (*core.Collection, error) {
	c, err := s.svc.Collection(r.PathValue("collection"))
	if err != nil {
		return nil, err
	}
	if !c.IsAuth() || c.Auth == nil {
		return nil, core.Invalid("Collection %q is not an auth collection.", c.Name)
	}
	return c, nil
}

// decodeFlow reads r's JSON object body into in (a pointer to a struct of
// strings) and checks that each named field is present and not too long.
func decodeFlow(r *http.Request, in any, required map[string]*string) error {
	b, err := readBody(r)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, in); err != nil {
		return core.Invalid("Failed to read the request body: it must be a JSON object of strings.")
	}
	errs := core.ValidationErrors{}
	for name, v := range required {
		switch {
		case strings.TrimSpace(*v) == "":
			errs.Add(name, "validation_required", "Cannot be blank.")
		case len(*v) > maxFlowInput:
			errs.Add(name, "validation_length_out_of_range", "Too long.")
		}
	}
	return errs.Err()
}

// flow runs one route of these flows: find the auth collection, decode
// the body into in, throttle under label (per IP, and per account when
// account returns one), then run do, answering 204 when it succeeds.
func (s *Server) flow(w http.ResponseWriter, r *http.Request, label string, in any, required map[string]*string,
	account func() string, do func(c *core.Collection) error) error {
	c, err := s.authCollection(r)
	if err == nil {
		err = decodeFlow(r, in, required)
	}
	if err != nil {
		return err
	}
	if _, err := s.throttle(r, label, c.ID, account()); err != nil {
		return err
	}
	if err := do(c); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func noAccount() string { return "" }

func (s *Server) requestVerification(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		Email string `json:"email"`
	}
	return s.flow(w, r, guard.LabelReset, &in, map[string]*string{"email": &in.Email}, func() string { return in.Email },
		func(c *core.Collection) error { return s.auth.RequestVerification(r.Context(), c, in.Email) })
}

func (s *Server) confirmVerification(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		Token string `json:"token"`
	}
	return s.flow(w, r, guard.LabelAuth, &in, map[string]*string{"token": &in.Token}, noAccount,
		func(c *core.Collection) error { return s.auth.ConfirmVerification(r.Context(), c, in.Token) })
}

func (s *Server) requestPasswordReset(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		Email string `json:"email"`
	}
	return s.flow(w, r, guard.LabelReset, &in, map[string]*string{"email": &in.Email}, func() string { return in.Email },
		func(c *core.Collection) error { return s.auth.RequestPasswordReset(r.Context(), c, in.Email) })
}

func (s *Server) confirmPasswordReset(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		Token           string `json:"token"`
		Password        string `json:"password"`
		PasswordConfirm string `json:"passwordConfirm"`
	}
	required := map[string]*string{"token": &in.Token, "password": &in.Password, "passwordConfirm": &in.PasswordConfirm}
	return s.flow(w, r, guard.LabelAuth, &in, required, noAccount, func(c *core.Collection) error {
		return s.auth.ConfirmPasswordReset(r.Context(), c, in.Token, in.Password, in.PasswordConfirm)
	})
}

// requestEmailChange needs the record's own auth token.
func (s *Server) requestEmailChange(w http.ResponseWriter, r *http.Request) error {
	c, err := s.authCollection(r)
	if err != nil {
		return err
	}
	req := s.caller(r)
	if req.Auth == nil || req.Auth.Collection.ID != c.ID {
		return core.Unauthorized("The request requires valid record authorization token.")
	}
	var in struct {
		NewEmail string `json:"newEmail"`
	}
	return s.flow(w, r, guard.LabelReset, &in, map[string]*string{"newEmail": &in.NewEmail},
		func() string { return req.Auth.String("email") },
		func(*core.Collection) error { return s.auth.RequestEmailChange(r.Context(), req.Auth, in.NewEmail) })
}

func (s *Server) confirmEmailChange(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		Token    string `json:"token"`
		Password string `json:"password"`
	}
	return s.flow(w, r, guard.LabelAuth, &in, map[string]*string{"token": &in.Token, "password": &in.Password}, noAccount,
		func(c *core.Collection) error {
			// The password is what someone holding the session and the new
			// mailbox lacks: guessing it is limited per account too, as a
			// login is, whatever addresses the guesses come from.
			return s.auth.ConfirmEmailChange(r.Context(), c, in.Token, in.Password, func(account string) error {
				return s.throttleAccount(r, guard.LabelAuth, c.ID, account)
			})
		})
}

// requestOTP answers {"otpId": ...}, a working one only for an account.
func (s *Server) requestOTP(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		Email string `json:"email"`
	}
	var id string
	c, err := s.authCollection(r)
	if err == nil {
		err = decodeFlow(r, &in, map[string]*string{"email": &in.Email})
	}
	if err != nil {
		return err
	}
	if _, err := s.throttle(r, guard.LabelOTP, c.ID, in.Email); err != nil {
		return err
	}
	if id, err = s.auth.RequestOTP(r.Context(), c, in.Email); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]string{"otpId": id})
	return nil
}

// authWithOTP logs in with an otpId and the mailed code (as "password").
func (s *Server) authWithOTP(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		OTPID    string `json:"otpId"`
		Password string `json:"password"`
		MFAID    string `json:"mfaId"`
	}
	c, err := s.authCollection(r)
	if err == nil {
		err = decodeFlow(r, &in, map[string]*string{"otpId": &in.OTPID, "password": &in.Password})
	}
	if err != nil {
		return err
	}
	if r, err = s.throttle(r, guard.LabelAuth, c.ID, in.OTPID); err != nil {
		return err
	}
	rec, tok, err := s.auth.AuthWithOTP(r.Context(), c, in.OTPID, in.Password, in.MFAID)
	if err != nil {
		return err
	}
	s.writeAuth(w, r, rec, tok)
	return nil
}
