package e2e

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/openteller/openteller/pkg/bankapi"
)

// TestBankHearsRevocation: the bank registers its webhook endpoint through
// the Bank API (the secret shown once); when the customer disconnects, the
// bank receives a signed link.revoked webhook that the SDK verifies.
func TestBankHearsRevocation(t *testing.T) {
	_, info := startDemo(t, t.TempDir(), "--activity", "1h")
	got := make(chan []byte, 4)
	var verifier bankapi.WebhookVerifier
	hooks := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if err := verifier.Verify(r.Header, body); err != nil {
			t.Errorf("webhook does not verify: %v", err)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		got <- body
	}))
	defer hooks.Close()

	// The demo's simulated bank registers its own endpoint as it starts;
	// wait for that, then take its place with this test's receiver.
	for deadline := time.Now().Add(20 * time.Second); ; {
		req, _ := http.NewRequest("GET", info.BaseURL+"/v1/webhook-endpoints", nil)
		req.Header.Set("Authorization", "Bearer "+info.InstitutionAPIKey)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var ep struct{ URL string }
		json.NewDecoder(resp.Body).Decode(&ep)
		resp.Body.Close()
		if ep.URL == info.BankURL+"/webhooks" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the simulated bank did not register its endpoint (now %q)", ep.URL)
		}
		time.Sleep(20 * time.Millisecond)
	}
	req, _ := http.NewRequest("POST", info.BaseURL+"/v1/webhook-endpoints", bytes.NewReader([]byte(`{"url":"`+hooks.URL+`/hooks"}`)))
	req.Header.Set("Authorization", "Bearer "+info.InstitutionAPIKey)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var reg struct{ Secret string }
	json.NewDecoder(resp.Body).Decode(&reg)
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated || reg.Secret == "" {
		t.Fatalf("register: %d %+v", resp.StatusCode, reg)
	}
	verifier.Secrets = []string{reg.Secret}

	c := newCustomer(t, info.BaseURL)
	c.signIn(info.CustomerEmail, info.CustomerPassword)
	if err := c.Call(ctxT(t), "DELETE", "/app/api/links/"+info.LinkID, nil, nil); err != nil {
		t.Fatal(err)
	}
	// The link's notices arrive in order: its creation (held until the bank
	// registered an endpoint), then the revocation.
	var types []string
	for len(types) < 2 {
		select {
		case body := <-got:
			var env struct {
				Type string
				Data struct {
					LinkID  string `json:"link_id"`
					EndedBy string `json:"ended_by"`
				}
			}
			json.Unmarshal(body, &env)
			if env.Data.LinkID != info.LinkID {
				t.Fatalf("webhook for another link: %s", body)
			}
			if env.Type == "link.revoked" && env.Data.EndedBy != "customer" {
				t.Fatalf("webhook %s", body)
			}
			types = append(types, env.Type)
		case <-time.After(20 * time.Second):
			t.Fatalf("webhooks within 20 s: %v", types)
		}
	}
	if types[0] != "link.created" || types[1] != "link.revoked" {
		t.Fatalf("webhooks in the order %v", types)
	}
}
