package docker

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// Every `CONTRACT.md#anchor` cited in providers/ (Go comments, READMEs) names a section
// that providers/CONTRACT.md has, so a reader of a clone can follow it.
func TestContractLinksNameExistingSections(t *testing.T) {
	contract, err := os.ReadFile("../CONTRACT.md")
	if err != nil {
		t.Fatal(err)
	}
	anchors := map[string]bool{}
	for _, m := range regexp.MustCompile(`<a id="([a-z0-9-]+)"></a>`).FindAllStringSubmatch(string(contract), -1) {
		anchors[m[1]] = true
	}
	link := regexp.MustCompile(`CONTRACT\.md#([a-z0-9-]+)`)
	cited := 0
	err = filepath.WalkDir("..", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || d.Name() == "contract_links_test.go" ||
			!(strings.HasSuffix(path, ".go") || strings.HasSuffix(path, ".md")) {
			return err
		}
		text, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, m := range link.FindAllStringSubmatch(string(text), -1) {
			cited++
			if !anchors[m[1]] {
				t.Errorf("%s links to CONTRACT.md#%s, which has no such section", path, m[1])
			}
		}
		if strings.Contains(string(text), "contract §") {
			t.Errorf("%s cites the contract by section number; link providers/CONTRACT.md#... instead", path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if cited < 10 {
		t.Errorf("only %d links to CONTRACT.md found; is the walk reading providers/?", cited)
	}
}
