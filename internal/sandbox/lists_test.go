package sandbox

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// Every list the adapters use returns the scenario's resources by scope.
func TestListsByScope(t *testing.T) {
	sb, err := Load(guide)
	if err != nil {
		t.Fatal(err)
	}
	a, b := newClients(t, sb, subA), newClients(t, sb, subB)
	ctx := context.Background()
	names := func(t *testing.T, next func() ([]string, bool, error)) []string {
		t.Helper()
		var out []string
		for {
			page, more, err := next()
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, page...)
			if !more {
				return out
			}
		}
	}
	cases := []struct {
		name string
		got  func(t *testing.T) []string
		want []string
	}{
		{"zones in subscription A", func(t *testing.T) []string {
			p := a.zones.NewListPager(nil)
			return names(t, func() ([]string, bool, error) {
				pg, err := p.NextPage(ctx)
				var n []string
				for _, v := range pg.Value {
					n = append(n, *v.Name)
				}
				return n, p.More(), err
			})
		}, []string{"privatelink.azurehealthcareapis.com", "privatelink.dicom.azurehealthcareapis.com", "privatelink.fhir.azurehealthcareapis.com", "privatelink.workspace.azurehealthcareapis.com"}},
		{"all record sets of the zone", func(t *testing.T) []string {
			p := a.records.NewListPager("rg-dns", zoneNm, nil)
			return names(t, func() ([]string, bool, error) {
				pg, err := p.NextPage(ctx)
				var n []string
				for _, v := range pg.Value {
					n = append(n, *v.Type+" "+*v.Name)
				}
				return n, p.More(), err
			})
		}, []string{"Microsoft.Network/privateDnsZones/A fhirserverxxx"}},
		{"endpoints in subscription B", func(t *testing.T) []string {
			p := b.pes.NewListBySubscriptionPager(nil)
			return names(t, func() ([]string, bool, error) {
				pg, err := p.NextPage(ctx)
				var n []string
				for _, v := range pg.Value {
					n = append(n, *v.Name)
				}
				return n, p.More(), err
			})
		}, []string{"pe-app-fhir"}},
		{"endpoints in the hub resource group", func(t *testing.T) []string {
			p := a.pes.NewListPager("rg-hub-network", nil)
			return names(t, func() ([]string, bool, error) {
				pg, err := p.NextPage(ctx)
				var n []string
				for _, v := range pg.Value {
					n = append(n, *v.Name)
				}
				return n, p.More(), err
			})
		}, []string{"pe-hub-fhirserverxxx"}},
		{"vnets in subscription B", func(t *testing.T) []string {
			p := b.vnets.NewListAllPager(nil)
			return names(t, func() ([]string, bool, error) {
				pg, err := p.NextPage(ctx)
				var n []string
				for _, v := range pg.Value {
					n = append(n, *v.Name)
				}
				return n, p.More(), err
			})
		}, []string{"spoke-app-vnet"}},
		{"zone groups of the hub endpoint (swapped args)", func(t *testing.T) []string {
			p := a.zgs.NewListPager("pe-hub-fhirserverxxx", "rg-hub-network", nil)
			return names(t, func() ([]string, bool, error) {
				pg, err := p.NextPage(ctx)
				var n []string
				for _, v := range pg.Value {
					n = append(n, *v.Name)
				}
				return n, p.More(), err
			})
		}, []string{"default"}},
		{"workspaces in subscription A", func(t *testing.T) []string {
			p := a.ws.NewListBySubscriptionPager(nil)
			return names(t, func() ([]string, bool, error) {
				pg, err := p.NextPage(ctx)
				var n []string
				for _, v := range pg.Value {
					n = append(n, *v.Name)
				}
				return n, p.More(), err
			})
		}, []string{"contoso-health"}},
		{"nic of the app endpoint", func(t *testing.T) []string {
			nic, err := b.nics.Get(ctx, "rg-app-network", "pe-app-fhir.nic.5c1d", nil)
			if err != nil {
				t.Fatal(err)
			}
			return []string{*nic.Properties.IPConfigurations[0].Properties.PrivateIPAddress}
		}, []string{"10.1.2.4"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.got(t), tc.want); diff != "" {
				t.Errorf("(-got +want):\n%s", diff)
			}
		})
	}
}
