package demo

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"time"
)

// Customer is a scripted person at the messenger: a cookie jar and the CSRF
// token, using the same customer API and OAuth redirects as the web page.
// The demo uses it to sign its customer up and link the simulated bank;
// end-to-end tests use it as their customer.
type Customer struct {
	Base   string
	Client *http.Client
	CSRF   string
}

// NewCustomer returns a customer of the platform at base.
func NewCustomer(base string) *Customer {
	jar, _ := cookiejar.New(nil)
	return &Customer{Base: strings.TrimRight(base, "/"), Client: &http.Client{Jar: jar, Timeout: 30 * time.Second}}
}

// APIError is an error answer from the customer API.
type APIError struct {
	Status  int
	Code    string
	Message string
}

func (e *APIError) Error() string { return fmt.Sprintf("%d %s: %s", e.Status, e.Code, e.Message) }

// Call sends a JSON request as the messenger page would (same origin, with
// the CSRF token) and decodes a 2xx answer into out.
func (c *Customer) Call(ctx context.Context, method, path string, body, out any) error {
	var r io.Reader
	if body != nil {
		data, _ := json.Marshal(body)
		r = bytes.NewReader(data)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.Base+path, r)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Origin", c.Base)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	if c.CSRF != "" {
		req.Header.Set("X-CSRF-Token", c.CSRF)
	}
	resp, err := c.Client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode >= 300 {
		var e struct {
			Error struct{ Code, Message string } `json:"error"`
		}
		json.Unmarshal(data, &e)
		return &APIError{Status: resp.StatusCode, Code: e.Error.Code, Message: e.Error.Message}
	}
	if out != nil && len(data) > 0 {
		return json.Unmarshal(data, out)
	}
	return nil
}

type account struct {
	CSRFToken string `json:"csrf_token"`
}

// SignUp creates the account and signs in.
func (c *Customer) SignUp(ctx context.Context, email, password string) error {
	var a account
	if err := c.Call(ctx, "POST", "/app/api/signup", map[string]string{"email": email, "password": password}, &a); err != nil {
		return err
	}
	c.CSRF = a.CSRFToken
	return nil
}

// SignIn signs in.
func (c *Customer) SignIn(ctx context.Context, email, password string) error {
	var a account
	if err := c.Call(ctx, "POST", "/app/api/signin", map[string]string{"email": email, "password": password}, &a); err != nil {
		return err
	}
	c.CSRF = a.CSRFToken
	return nil
}

// Conversation is one entry of GET /app/api/conversations.
type Conversation struct {
	ID          string `json:"id"`
	Institution struct {
		ID   string `json:"id"`
		Name string `json:"name"`
	} `json:"institution"`
	LastSeq int64 `json:"last_seq"`
	Link    struct {
		ID     string   `json:"id"`
		Scopes []string `json:"scopes"`
		Status string   `json:"status"`
	} `json:"link"`
}

// Conversations lists the customer's conversations.
func (c *Customer) Conversations(ctx context.Context) ([]Conversation, error) {
	var out struct {
		Conversations []Conversation `json:"conversations"`
	}
	err := c.Call(ctx, "GET", "/app/api/conversations", nil, &out)
	return out.Conversations, err
}

// Cookie returns the Cookie header the customer's browser would send to
// the platform, for opening a WebSocket.
func (c *Customer) Cookie() string {
	u, _ := url.Parse(c.Base)
	var parts []string
	for _, k := range c.Client.Jar.Cookies(u) {
		parts = append(parts, k.Name+"="+k.Value)
	}
	return strings.Join(parts, "; ")
}

var (
	formTag  = regexp.MustCompile(`(?s)<form\b[^>]*>`)
	inputTag = regexp.MustCompile(`(?s)<(input|button)\b[^>]*>`)
	attrPair = regexp.MustCompile(`([a-zA-Z_:-]+)(?:="([^"]*)")?`)
)

func attrs(tag string) map[string]string {
	out := map[string]string{}
	for _, m := range attrPair.FindAllStringSubmatch(tag, -1) {
		out[strings.ToLower(m[1])] = html.UnescapeString(m[2])
	}
	return out
}

// Disclosure is what GET /app/api/disclosure answers.
type Disclosure struct {
	Text   string `json:"text"`
	Digest string `json:"digest"`
}

// Disclosure fetches what the customer reads before linking.
func (c *Customer) Disclosure(ctx context.Context, institutionID string, scopes []string, days int) (Disclosure, error) {
	q := url.Values{"institution_id": {institutionID}, "scopes": {strings.Join(scopes, ",")}, "duration_days": {fmt.Sprint(days)}}
	var out struct {
		Disclosure Disclosure `json:"disclosure"`
	}
	err := c.Call(ctx, "GET", "/app/api/disclosure?"+q.Encode(), nil, &out)
	return out.Disclosure, err
}

// Link connects a bank account for 90 days; see LinkFor.
func (c *Customer) Link(ctx context.Context, institutionID string, scopes []string, bankUser, bankPassword string) (string, error) {
	return c.LinkFor(ctx, institutionID, scopes, 90, bankUser, bankPassword)
}

// LinkFor connects a bank account as a person would: read the disclosure
// and approve it at the platform, fill the bank's sign-in page with the
// bank's credentials, approve what is ticked there, and follow the
// redirects back. It returns the conversation the platform sent the
// browser to.
func (c *Customer) LinkFor(ctx context.Context, institutionID string, scopes []string, days int, bankUser, bankPassword string) (string, error) {
	d, err := c.Disclosure(ctx, institutionID, scopes, days)
	if err != nil {
		return "", fmt.Errorf("disclosure: %w", err)
	}
	var start struct {
		AuthorizeURL string `json:"authorize_url"`
	}
	if err := c.Call(ctx, "POST", "/app/api/links", map[string]any{"institution_id": institutionID, "scopes": scopes,
		"duration_days": days, "disclosure_digest": d.Digest}, &start); err != nil {
		return "", fmt.Errorf("start link: %w", err)
	}
	req, _ := http.NewRequestWithContext(ctx, "GET", start.AuthorizeURL, nil)
	resp, err := c.Client.Do(req)
	if err != nil {
		return "", err
	}
	page, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("bank's authorize page answered %d", resp.StatusCode)
	}
	form := url.Values{}
	var approve [2]string
	for _, tag := range inputTag.FindAllString(string(page), -1) {
		a := attrs(tag)
		name := a["name"]
		switch {
		case name == "":
		case a["type"] == "submit" || strings.HasPrefix(tag, "<button"):
			if strings.Contains(strings.ToLower(name+a["value"]), "approve") || strings.Contains(strings.ToLower(a["value"]), "allow") {
				approve = [2]string{name, a["value"]}
			}
		case a["type"] == "checkbox":
			if _, checked := a["checked"]; checked {
				form.Add(name, a["value"])
			}
		case a["type"] == "password":
			form.Set(name, bankPassword)
		case a["type"] == "text" || a["type"] == "email" || a["type"] == "":
			if strings.Contains(name, "user") || strings.Contains(name, "login") {
				form.Set(name, bankUser)
			} else {
				form.Set(name, a["value"])
			}
		default:
			form.Set(name, a["value"])
		}
	}
	if approve[0] == "" {
		return "", errors.New("the bank's authorize page has no approve button")
	}
	form.Set(approve[0], approve[1])
	action := start.AuthorizeURL
	if m := formTag.FindString(string(page)); m != "" {
		if a := attrs(m)["action"]; a != "" {
			base, _ := url.Parse(start.AuthorizeURL)
			ref, err := url.Parse(a)
			if err != nil {
				return "", err
			}
			action = base.ResolveReference(ref).String()
		}
	}
	// The bank redirects to /oauth/callback, which redirects into the
	// messenger; the last URL's fragment names the conversation.
	var last *url.URL
	client := *c.Client
	client.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		last = req.URL
		if len(via) > 10 {
			return errors.New("too many redirects")
		}
		return nil
	}
	req, _ = http.NewRequestWithContext(ctx, "POST", action, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err = client.Do(req)
	if err != nil {
		return "", err
	}
	resp.Body.Close()
	if last == nil {
		return "", fmt.Errorf("the bank did not redirect back (status %d)", resp.StatusCode)
	}
	if conv, ok := strings.CutPrefix(last.Fragment, "/c/"); ok {
		return conv, nil
	}
	return "", fmt.Errorf("link failed: landed on %s#%s", last.Path, last.Fragment)
}
