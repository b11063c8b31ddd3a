package consent

import (
	"strings"
	"time"

	"github.com/openteller/openteller/internal/store"
	"github.com/openteller/openteller/pkg/bankapi"
)

// KantaraReceipt is a consent receipt in the field layout of the Kantara
// Initiative Consent Receipt Specification v1.1, with OpenTeller's own
// details under "openteller".
type KantaraReceipt struct {
	Version          string              `json:"version"`
	Jurisdiction     string              `json:"jurisdiction"`
	ConsentTimestamp int64               `json:"consentTimestamp"`
	CollectionMethod string              `json:"collectionMethod"`
	ConsentReceiptID string              `json:"consentReceiptID"`
	Language         string              `json:"language"`
	PiiPrincipalID   string              `json:"piiPrincipalId"`
	PiiControllers   []KantaraController `json:"piiControllers"`
	PolicyURL        string              `json:"policyUrl"`
	Services         []KantaraService    `json:"services"`
	Sensitive        bool                `json:"sensitive"`
	SpiCat           []string            `json:"spiCat"`
	OpenTeller       ReceiptDetails      `json:"openteller"`
}

// KantaraController is a party that controls the data.
type KantaraController struct {
	PiiController string `json:"piiController"`
	Contact       string `json:"contact"`
	Address       string `json:"address"`
	Email         string `json:"email"`
	Phone         string `json:"phone"`
}

// KantaraService is what the consent is for.
type KantaraService struct {
	Service  string           `json:"service"`
	Purposes []KantaraPurpose `json:"purposes"`
}

// KantaraPurpose is one purpose of a service.
type KantaraPurpose struct {
	Purpose              string   `json:"purpose"`
	PurposeCategory      []string `json:"purposeCategory"`
	ConsentType          string   `json:"consentType"`
	PiiCategory          []string `json:"piiCategory"`
	PrimaryPurpose       bool     `json:"primaryPurpose"`
	Termination          string   `json:"termination"`
	ThirdPartyDisclosure bool     `json:"thirdPartyDisclosure"`
}

// ReceiptDetails are the facts a Kantara receipt has no field for.
type ReceiptDetails struct {
	Action           string    `json:"action"` // grant, revoke, share_name, …: store.Receipt's
	LinkID           string    `json:"link_id"`
	InstitutionID    string    `json:"institution_id"`
	Scopes           []string  `json:"scopes"`
	CollectedAt      time.Time `json:"collected_at"`
	ExpiresAt        time.Time `json:"expires_at"`
	DisclosureSHA256 string    `json:"disclosure_sha256"`
}

// Kantara renders r. The institution is named as a controller of the data
// it sends; OpenTeller holds it for the customer alone.
func Kantara(r store.Receipt, institutionName, baseURL string) KantaraReceipt {
	var categories []string
	for _, s := range r.Scopes {
		if t, ok := scopeTexts[s]; ok {
			categories = append(categories, t.Words)
		}
	}
	termination := "Ends on " + r.ExpiresAt.UTC().Format(time.DateOnly) + ", or at once when you or the institution revoke it."
	switch r.Action {
	case store.ReceiptRevoke:
		termination = "Revoked on " + r.CollectedAt.UTC().Format(time.DateOnly) + "; the data it covered was deleted."
	case store.ReceiptExpire:
		termination = "Ended on " + r.CollectedAt.UTC().Format(time.DateOnly) + ", at its expiry; the data it covered was deleted."
	case store.ReceiptDelegate:
		termination = "Ends on " + r.ExpiresAt.UTC().Format(time.DateOnly) + ", or at once when you stop it."
	case store.ReceiptUndelegate:
		termination = "Stopped on " + r.CollectedAt.UTC().Format(time.DateOnly) + "; the person you shared with can no longer read it."
	case store.ReceiptShareName:
		termination = "Shown until you change or remove it, until the connection ends, or until you clear its history."
		categories = append(categories, "A name you chose to be called by")
	case store.ReceiptUnshareName:
		termination = "Stopped on " + r.CollectedAt.UTC().Format(time.DateOnly) + "; the bank's people see a made-up name again."
		categories = append(categories, "A name you chose to be called by")
	}
	// Sharing with a person the customer chose is a disclosure to a third
	// party, at the customer's request.
	thirdParty := r.Action == store.ReceiptDelegate || r.Action == store.ReceiptUndelegate
	return KantaraReceipt{
		Version: "KI-CR-v1.1.0", Jurisdiction: "US", ConsentTimestamp: r.CollectedAt.Unix(), CollectionMethod: r.Method,
		ConsentReceiptID: r.ID, Language: "en", PiiPrincipalID: r.CustomerID,
		PiiControllers: []KantaraController{{PiiController: institutionName, Contact: institutionName + " customer service"}},
		PolicyURL:      strings.TrimRight(baseURL, "/") + "/#/privacy",
		Services: []KantaraService{{Service: "OpenTeller conversation with " + institutionName, Purposes: []KantaraPurpose{{
			Purpose: r.Purpose, PurposeCategory: []string{"Core function"}, ConsentType: "EXPLICIT", PiiCategory: categories,
			PrimaryPurpose: true, Termination: termination, ThirdPartyDisclosure: thirdParty,
		}}}},
		Sensitive: slicesContainsAny(r.Scopes, bankapi.ScopeBalances, bankapi.ScopeTransactions), SpiCat: []string{},
		OpenTeller: ReceiptDetails{Action: r.Action, LinkID: r.LinkID, InstitutionID: r.InstitutionID, Scopes: r.Scopes,
			CollectedAt: r.CollectedAt, ExpiresAt: r.ExpiresAt, DisclosureSHA256: r.DisclosureDigest},
	}
}

func slicesContainsAny(have []string, want ...string) bool {
	for _, h := range have {
		for _, w := range want {
			if h == w {
				return true
			}
		}
	}
	return false
}
