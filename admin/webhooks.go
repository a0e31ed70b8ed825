package admin

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/tortoise-dev/tortoise/core"
	"github.com/tortoise-dev/tortoise/jobs"
	"github.com/tortoise-dev/tortoise/webhooks"
)

// The webhook pages: the webhooks, a form to create or change one (its
// signing secret is shown once, in the answer that creates or rotates it),
// and each webhook's delivery log — its delivery jobs, newest first, with
// the receiver's status, the latency and each attempt's error — with
// replay, as /api/webhooks and its deliveries route do.

func (a *Admin) webhookRoutes() {
	a.page("GET /admin/webhooks", a.webhooksPage)
	a.page("GET /admin/webhooks/new", a.newWebhookPage)
	a.page("POST /admin/webhooks", a.saveWebhook)
	a.page("GET /admin/webhooks/{id}", a.webhookPage)
	a.page("POST /admin/webhooks/{id}", a.saveWebhook)
	a.page("POST /admin/webhooks/{id}/rotate", a.rotateWebhook)
	a.page("GET /admin/webhooks/{id}/delete", a.deleteWebhookPage)
	a.page("POST /admin/webhooks/{id}/delete", a.deleteWebhook)
	a.page("POST /admin/webhooks/{id}/deliveries/{job}/replay", a.replayDelivery)
}

// errNoWebhooks answers the webhook pages of an app without webhooks.
var errNoWebhooks = core.NotFound("Webhooks are not available in this process.")

type webhooksView struct {
	Hooks []webhooks.Webhook
}

func (webhooksView) title() (string, string) { return "Webhooks", "webhooks" }

func (a *Admin) webhooksPage(w http.ResponseWriter, r *http.Request, sess *session) error {
	if a.opts.Webhooks == nil {
		return errNoWebhooks
	}
	list, err := a.opts.Webhooks.List(r.Context())
	if err != nil {
		return err
	}
	a.render(w, r, http.StatusOK, "webhooks.html", sess, webhooksView{Hooks: list})
	return nil
}

// webhookView is one webhook's form (a new one's when Hook.ID is "") and
// delivery log.
type webhookView struct {
	Hook webhooks.Webhook
	// Secret is the signing secret just made, shown this once.
	Secret      string
	Collections []string
	Events      []string
	opsErrs
	Message string
	// The delivery log: a page of deliveries, after Cursor.
	Deliveries []webhookDelivery
	State      string
	States     []string
	Next       string
	Paged      bool
}

// webhookDelivery is one delivery job with what its output says of the last
// attempt: the receiver's status and the time it took.
type webhookDelivery struct {
	Job    *jobs.Job
	Status int
	MS     int64
	Output bool
}

func (v webhookView) title() (string, string) {
	if v.Hook.ID == "" {
		return "New webhook", "webhooks"
	}
	return "Webhook " + v.Hook.Collection + " → " + v.Hook.URL, "webhooks"
}

// HasEvent reports whether the webhook is for event.
func (v webhookView) HasEvent(e string) bool { return slices.Contains(v.Hook.Events, e) }

// StateURL is the delivery log filtered by state.
func (v webhookView) StateURL(state string) string {
	u := "/admin/webhooks/" + url.PathEscape(v.Hook.ID)
	if state != "" {
		u += "?state=" + url.QueryEscape(state)
	}
	return u + "#deliveries"
}

// webhookForm is a webhook page without its deliveries.
func (a *Admin) webhookForm(h webhooks.Webhook) *webhookView {
	v := &webhookView{Hook: h, Events: webhooks.Events, opsErrs: opsErrs{}, States: jobTabs}
	for _, c := range a.opts.Service.Schema().List() {
		if !c.System && !core.IsSystemName(c.Name) {
			v.Collections = append(v.Collections, c.Name)
		}
	}
	return v
}

func (a *Admin) newWebhookPage(w http.ResponseWriter, r *http.Request, sess *session) error {
	if a.opts.Webhooks == nil {
		return errNoWebhooks
	}
	v := a.webhookForm(webhooks.Webhook{Events: webhooks.Events})
	a.render(w, r, http.StatusOK, "webhook.html", sess, v)
	return nil
}

func (a *Admin) webhookPage(w http.ResponseWriter, r *http.Request, sess *session) error {
	v, err := a.webhookWithLog(r, "")
	if err != nil {
		return err
	}
	a.render(w, r, http.StatusOK, "webhook.html", sess, v)
	return nil
}

// webhookWithLog is the page of the webhook in the path, with a page of
// its delivery log (?state=, ?cursor=), and secret if one was just made.
func (a *Admin) webhookWithLog(r *http.Request, secret string) (*webhookView, error) {
	if a.opts.Webhooks == nil {
		return nil, errNoWebhooks
	}
	h, err := a.opts.Webhooks.Get(r.Context(), r.PathValue("id"))
	if err != nil {
		return nil, err
	}
	v := a.webhookForm(*h)
	v.Secret = secret
	if err := a.deliveries(r, v); err != nil {
		return nil, err
	}
	return v, nil
}

// deliveries fills in v's delivery log, as GET
// /api/webhooks/{id}/deliveries lists it.
func (a *Admin) deliveries(r *http.Request, v *webhookView) error {
	q := r.URL.Query()
	v.State, v.Paged = q.Get("state"), q.Get("cursor") != ""
	p := jobs.ListParams{Kinds: []string{webhooks.Kind}, Tags: []string{webhooks.Tag(v.Hook.ID)}, Limit: jobsPerPage, After: q.Get("cursor")}
	if v.State != "" {
		if !slices.Contains(jobs.States, v.State) {
			return core.FieldInvalid("state", "validation_invalid_state", "Unknown job state "+strconv.Quote(v.State)+".")
		}
		p.States = []string{v.State}
	}
	res, err := a.opts.Jobs.List(r.Context(), p)
	if err != nil {
		return err
	}
	for _, j := range res.Jobs {
		d := webhookDelivery{Job: j}
		var out struct {
			Status int   `json:"status"`
			MS     int64 `json:"ms"`
		}
		if len(j.Output) > 0 && json.Unmarshal(j.Output, &out) == nil {
			d.Status, d.MS, d.Output = out.Status, out.MS, true
		}
		v.Deliveries = append(v.Deliveries, d)
	}
	if res.Cursor != "" {
		u := "/admin/webhooks/" + url.PathEscape(v.Hook.ID) + "?cursor=" + url.QueryEscape(res.Cursor)
		if v.State != "" {
			u += "&state=" + url.QueryEscape(v.State)
		}
		v.Next = u + "#deliveries"
	}
	return nil
}

// saveWebhook creates a webhook (POST /admin/webhooks), answering with its
// page showing the new secret once, or changes one.
func (a *Admin) saveWebhook(w http.ResponseWriter, r *http.Request, sess *session) error {
	if a.opts.Webhooks == nil {
		return errNoWebhooks
	}
	if err := parseForm(w, r, 64<<10); err != nil {
		return err
	}
	id := r.PathValue("id")
	collection, filter, target := strings.TrimSpace(r.PostFormValue("collection")), r.PostFormValue("filter"), strings.TrimSpace(r.PostFormValue("url"))
	events := r.PostForm["events"]
	if events == nil {
		events = []string{}
	}
	disabled := !opsOn(r.PostFormValue("enabled"))
	in := webhooks.Input{Collection: &collection, Events: &events, Filter: &filter, URL: &target, Disabled: &disabled}
	var (
		h   *webhooks.Webhook
		err error
	)
	if id == "" {
		h, err = a.opts.Webhooks.Create(r.Context(), in)
	} else {
		h, err = a.opts.Webhooks.Update(r.Context(), id, in)
	}
	if err != nil {
		fields, msg, ok := opsInvalid(err)
		if !ok {
			return err
		}
		v := a.webhookForm(webhooks.Webhook{ID: id, Collection: collection, Events: events, Filter: filter, URL: target, Disabled: disabled})
		if id != "" {
			if err := a.deliveries(r, v); err != nil {
				return err
			}
		}
		v.opsErrs, v.Message = fields, msg
		if msg == "" {
			v.Message = "The webhook was not saved: correct the fields marked below."
		}
		a.render(w, r, http.StatusBadRequest, "webhook.html", sess, v)
		return nil
	}
	a.log.Info("admin saved a webhook", "webhook", h.ID, "superuser", sess.rec.ID())
	if id == "" {
		r.SetPathValue("id", h.ID)
		v, err := a.webhookWithLog(r, h.Secret)
		if err != nil {
			return err
		}
		a.render(w, r, http.StatusOK, "webhook.html", sess, v)
		return nil
	}
	opsSeeOther(w, r, "/admin/webhooks/"+url.PathEscape(h.ID), "The webhook was saved.")
	return nil
}

// rotateWebhook gives the webhook a new secret and shows it, once.
func (a *Admin) rotateWebhook(w http.ResponseWriter, r *http.Request, sess *session) error {
	if a.opts.Webhooks == nil {
		return errNoWebhooks
	}
	h, err := a.opts.Webhooks.RotateSecret(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	a.log.Info("admin rotated a webhook secret", "webhook", h.ID, "superuser", sess.rec.ID())
	v, err := a.webhookWithLog(r, h.Secret)
	if err != nil {
		return err
	}
	a.render(w, r, http.StatusOK, "webhook.html", sess, v)
	return nil
}

type webhookDeleteView struct{ Hook *webhooks.Webhook }

func (webhookDeleteView) title() (string, string) { return "Delete a webhook", "webhooks" }

func (a *Admin) deleteWebhookPage(w http.ResponseWriter, r *http.Request, sess *session) error {
	if a.opts.Webhooks == nil {
		return errNoWebhooks
	}
	h, err := a.opts.Webhooks.Get(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	a.render(w, r, http.StatusOK, "webhook_delete.html", sess, webhookDeleteView{Hook: h})
	return nil
}

func (a *Admin) deleteWebhook(w http.ResponseWriter, r *http.Request, sess *session) error {
	if a.opts.Webhooks == nil {
		return errNoWebhooks
	}
	id := r.PathValue("id")
	if err := a.opts.Webhooks.Delete(r.Context(), id); err != nil {
		return err
	}
	a.log.Info("admin deleted a webhook", "webhook", id, "superuser", sess.rec.ID())
	opsSeeOther(w, r, "/admin/webhooks", "The webhook was deleted; deliveries still waiting are cancelled when their turn comes.")
	return nil
}

// replayDelivery sends a delivery again (with the same message id, so the
// receiver can tell), if the job is one of this webhook's deliveries.
func (a *Admin) replayDelivery(w http.ResponseWriter, r *http.Request, sess *session) error {
	if a.opts.Webhooks == nil {
		return errNoWebhooks
	}
	id := r.PathValue("id")
	jobID, err := strconv.ParseInt(r.PathValue("job"), 10, 64)
	if err != nil {
		return core.NotFound("The delivery wasn't found.")
	}
	j, err := a.opts.Jobs.Get(r.Context(), jobID)
	if err != nil {
		return err
	}
	if j.Kind != webhooks.Kind || !slices.Contains(j.Tags, webhooks.Tag(id)) {
		return core.NotFound("The delivery wasn't found.")
	}
	if _, err := a.opts.Jobs.Retry(r.Context(), jobID); err != nil {
		return err
	}
	a.log.Info("admin replayed a webhook delivery", "webhook", id, "job", jobID, "superuser", sess.rec.ID())
	opsSeeOther(w, r, "/admin/webhooks/"+url.PathEscape(id)+"#deliveries", "Delivery "+strconv.FormatInt(jobID, 10)+" will be sent again.")
	return nil
}
