package messenger

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/openteller/openteller/internal/pan"
	"github.com/openteller/openteller/internal/store"
)

// Profile fields OpenTeller keeps; every other messenger_profile field is
// refused when set, and absent when read.
const (
	fieldGetStarted     = "get_started"
	fieldPersistentMenu = "persistent_menu"
)

// knownProfileFields are the Messenger profile's fields: those a GET or
// DELETE may name.
var knownProfileFields = []string{fieldGetStarted, fieldPersistentMenu, "greeting", "ice_breakers", "whitelisted_domains",
	"account_linking_url", "home_url", "subject_to_new_eu_privacy_rules", "commands", "title", "description"}

const (
	maxMenuItems = 20 // Messenger's limit for a persistent menu
	maxMenuTitle = 40 // OpenTeller's label, as a button's
	maxPayload   = 1000
)

type menuAction struct {
	Type               string `json:"type"`
	Title              string `json:"title"`
	Payload            string `json:"payload"`
	URL                string `json:"url"`
	WebviewHeightRatio string `json:"webview_height_ratio"`
	CallToActions      []any  `json:"call_to_actions"`
}

type persistentMenu struct {
	Locale                string       `json:"locale"`
	ComposerInputDisabled bool         `json:"composer_input_disabled"`
	CallToActions         []menuAction `json:"call_to_actions"`
	DisabledSurfaces      []string     `json:"disabled_surfaces"`
}

// setProfile serves POST /me/messenger_profile: get_started and
// persistent_menu become the bank's menu in its conversations.
func (s *Service) setProfile(w http.ResponseWriter, r *request) {
	if len(r.fields) == 0 {
		s.fail(w, invalidParam("Set get_started or persistent_menu."))
		return
	}
	for k := range r.fields {
		if k != fieldGetStarted && k != fieldPersistentMenu {
			s.fail(w, invalidParam("Param %s is not supported: OpenTeller keeps get_started and persistent_menu, the menu of your conversations, and nothing else of a Messenger profile.", k))
			return
		}
	}
	m, err := s.Store.Menu(r.Context(), r.institutionID)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		s.fail(w, err)
		return
	}
	m.InstitutionID = r.institutionID
	var gs struct {
		Payload string `json:"payload"`
	}
	if ok, err := r.field(fieldGetStarted, &gs); err != nil {
		s.fail(w, err)
		return
	} else if ok {
		if err := checkMenuText("get_started[payload]", gs.Payload, maxPayload); err != nil {
			s.fail(w, err)
			return
		}
		m.GetStarted = gs.Payload
	}
	var menus []persistentMenu
	if ok, err := r.field(fieldPersistentMenu, &menus); err != nil {
		s.fail(w, err)
		return
	} else if ok {
		items, err := menuItems(menus)
		if err != nil {
			s.fail(w, err)
			return
		}
		m.Items = items
	}
	m.UpdatedAt = s.now().UTC()
	if err := s.Store.PutMenu(r.Context(), m); err != nil {
		s.fail(w, fmt.Errorf("messenger: keep menu: %w", err))
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"result": "success"})
}

// menuItems takes the default locale's menu: OpenTeller shows one menu.
func menuItems(menus []persistentMenu) ([]store.MenuItem, error) {
	if len(menus) != 1 || menus[0].Locale != "default" {
		return nil, invalidParam("Param persistent_menu must hold one menu, for locale \"default\": OpenTeller shows every customer the same menu.")
	}
	pm := menus[0]
	switch {
	case pm.ComposerInputDisabled:
		return nil, invalidParam("Param persistent_menu[0][composer_input_disabled] is not supported: a customer can always write to their bank in OpenTeller.")
	case len(pm.CallToActions) == 0 || len(pm.CallToActions) > maxMenuItems:
		return nil, invalidParam("Param persistent_menu[0][call_to_actions] must have 1 to %d items.", maxMenuItems)
	}
	var items []store.MenuItem
	for i, a := range pm.CallToActions {
		f := fmt.Sprintf("persistent_menu[0][call_to_actions][%d]", i)
		if err := checkMenuText(f+"[title]", a.Title, maxMenuTitle); err != nil {
			return nil, err
		}
		if a.Title == "" {
			return nil, invalidParam("Param %s[title] must be non-empty.", f)
		}
		switch a.Type {
		case "postback":
			if a.Payload == "" || a.URL != "" {
				return nil, invalidParam("Param %s needs a payload, and no url.", f)
			}
			if err := checkMenuText(f+"[payload]", a.Payload, maxPayload); err != nil {
				return nil, err
			}
			items = append(items, store.MenuItem{Title: a.Title, Payload: a.Payload})
		case "web_url":
			u, err := url.Parse(a.URL)
			if err != nil || u.Scheme != "https" || u.Host == "" || u.User != nil || len(a.URL) > 2000 || a.Payload != "" {
				return nil, invalidParam("Param %s[url] must be an https URL, and no payload.", f)
			}
			items = append(items, store.MenuItem{Title: a.Title, URL: a.URL})
		case "nested":
			return nil, invalidParam("Param %s[type] nested is not supported: OpenTeller's menu has one level.", f)
		default:
			return nil, invalidParam("Param %s[type] must be postback or web_url.", f)
		}
	}
	return items, nil
}

func checkMenuText(field, v string, max int) error {
	switch {
	case !utf8.ValidString(v) || strings.ContainsRune(v, 0):
		return invalidParam("Param %s is not valid text.", field)
	case utf8.RuneCountInString(v) > max:
		return invalidParam("Param %s is longer than %d characters.", field, max)
	case pan.Contains(v):
		return invalidParam("Param %s holds what looks like a full card number. OpenTeller never accepts one. Nothing was changed.", field)
	}
	return nil
}

// getProfile serves GET /me/messenger_profile?fields=…
func (s *Service) getProfile(w http.ResponseWriter, r *request) {
	names, err := profileFields(r.query.Get("fields"))
	if err != nil {
		s.fail(w, err)
		return
	}
	m, err := s.Store.Menu(r.Context(), r.institutionID)
	if errors.Is(err, store.ErrNotFound) {
		writeJSON(w, http.StatusOK, map[string]any{"data": []any{}})
		return
	}
	if err != nil {
		s.fail(w, err)
		return
	}
	out := map[string]any{}
	if slices.Contains(names, fieldGetStarted) && m.GetStarted != "" {
		out[fieldGetStarted] = map[string]string{"payload": m.GetStarted}
	}
	if slices.Contains(names, fieldPersistentMenu) && len(m.Items) > 0 {
		var actions []map[string]string
		for _, it := range m.Items {
			if it.URL != "" {
				actions = append(actions, map[string]string{"type": "web_url", "title": it.Title, "url": it.URL})
			} else {
				actions = append(actions, map[string]string{"type": "postback", "title": it.Title, "payload": it.Payload})
			}
		}
		out[fieldPersistentMenu] = []any{map[string]any{"locale": "default", "composer_input_disabled": false, "call_to_actions": actions}}
	}
	data := []any{}
	if len(out) > 0 {
		data = append(data, out)
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": data})
}

func profileFields(list string) ([]string, error) {
	if strings.TrimSpace(list) == "" {
		return nil, invalidParam("Param fields must name the profile fields to read, such as fields=get_started,persistent_menu.")
	}
	var names []string
	for _, n := range strings.Split(list, ",") {
		n = strings.TrimSpace(n)
		if !slices.Contains(knownProfileFields, n) {
			return nil, invalidParam("Param fields: %q is not a field of a Messenger profile.", n)
		}
		names = append(names, n)
	}
	return names, nil
}

// deleteProfile serves DELETE /me/messenger_profile {"fields":[…]}.
func (s *Service) deleteProfile(w http.ResponseWriter, r *request) {
	if err := r.onlyFields("fields"); err != nil {
		s.fail(w, err)
		return
	}
	var names []string
	if ok, err := r.field("fields", &names); err != nil || !ok || len(names) == 0 {
		s.fail(w, firstErr(err, invalidParam("Param fields must list the profile fields to delete.")))
		return
	}
	for _, n := range names {
		if !slices.Contains(knownProfileFields, n) {
			s.fail(w, invalidParam("Param fields: %q is not a field of a Messenger profile.", n))
			return
		}
	}
	m, err := s.Store.Menu(r.Context(), r.institutionID)
	if errors.Is(err, store.ErrNotFound) {
		writeJSON(w, http.StatusOK, map[string]string{"result": "success"})
		return
	}
	if err != nil {
		s.fail(w, err)
		return
	}
	if slices.Contains(names, fieldGetStarted) {
		m.GetStarted = ""
	}
	if slices.Contains(names, fieldPersistentMenu) {
		m.Items = nil
	}
	m.UpdatedAt = s.now().UTC()
	if err := s.Store.PutMenu(r.Context(), m); err != nil {
		s.fail(w, fmt.Errorf("messenger: keep menu: %w", err))
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"result": "success"})
}
