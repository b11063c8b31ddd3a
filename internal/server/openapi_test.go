package server_test

import (
	"encoding/json"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/openteller/openteller/internal/handover"
	"github.com/openteller/openteller/pkg/bankapi"
)

// TestOpenAPIMatchesRoutes keeps pkg/bankapi/openapi.json in step with the
// Bank API the server registers: the same routes, the same event types,
// and the document served as it is.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	srv := testServer(t)

	var doc struct {
		OpenAPI    string                                `json:"openapi"`
		Paths      map[string]map[string]json.RawMessage `json:"paths"`
		Webhooks   map[string]json.RawMessage            `json:"webhooks"`
		Components struct {
			Schemas struct {
				Event struct {
					Properties struct {
						Type struct {
							Enum []string `json:"enum"`
						} `json:"type"`
					} `json:"properties"`
				} `json:"Event"`
				Handover struct {
					Properties struct {
						Trigger struct {
							Enum []string `json:"enum"`
						} `json:"trigger"`
					} `json:"properties"`
				} `json:"Handover"`
			} `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(bankapi.OpenAPI, &doc); err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	if doc.OpenAPI != "3.1.0" {
		t.Fatalf("openapi %q", doc.OpenAPI)
	}
	var documented []string
	for path, ops := range doc.Paths {
		for method := range ops {
			documented = append(documented, strings.ToUpper(method)+" "+path)
		}
	}
	routed := srv.BankRoutes()
	sort.Strings(documented)
	sort.Strings(routed)
	if !slices.Equal(documented, routed) {
		t.Fatalf("the document and the server disagree:\ndocumented %v\nrouted     %v", documented, routed)
	}
	types := slices.Clone(doc.Components.Schemas.Event.Properties.Type.Enum)
	want := slices.Clone(bankapi.EventTypes)
	sort.Strings(types)
	sort.Strings(want)
	if !slices.Equal(types, want) {
		t.Fatalf("event types: documented %v, accepted %v", types, want)
	}
	var triggers []string
	for _, tr := range handover.Triggers {
		triggers = append(triggers, string(tr))
	}
	if documented := doc.Components.Schemas.Handover.Properties.Trigger.Enum; !slices.Equal(slices.Sorted(slices.Values(documented)), slices.Sorted(slices.Values(triggers))) {
		t.Fatalf("handover triggers: documented %v, sent %v", documented, triggers)
	}
	hooks := slices.Sorted(maps.Keys(doc.Webhooks))
	if want := slices.Sorted(slices.Values(bankapi.WebhookTypes)); !slices.Equal(hooks, want) {
		t.Fatalf("webhooks: documented %v, sent %v", hooks, want)
	}

	rec := httptest.NewRecorder()
	srv.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/v1/openapi.json", nil))
	body, _ := io.ReadAll(rec.Body)
	if rec.Code != http.StatusOK || string(body) != string(bankapi.OpenAPI) {
		t.Fatalf("served %d, %d bytes", rec.Code, len(body))
	}
}
