package filter

import (
	"math/rand/v2"
	"testing"

	"github.com/tortoise-dev/tortoise/core"
)

// postFilters covers every operator, modifier, path kind, null, macros and
// @request.* on the posts collection.
var postFilters = []string{
	``,
	`title = 'Hello'`,
	`title != 'Hello'`,
	`title > 'M'`,
	`title >= 'M'`,
	`title < 'M'`,
	`title <= 'Hello'`,
	`title ~ 'ell'`,
	`title !~ 'ell'`,
	`title ~ 'h%o'`,
	`title ~ '%o'`,
	`title ~ 'HELLO'`,
	`title ~ '_'`,
	`title ~ 'a_b'`,
	`title ~ '%\_%'`,
	`title ~ '50\%'`,
	`title ~ '50%'`,
	`title ~ 'k\s'`,
	`title ~ '%\\%'`,
	`title ~ '%\\s%'`,
	`title ~ '%\s%'`,
	`title ~ 'é'`,
	`title ~ 'É'`,
	`title = null`,
	`title != null`,
	`title = ''`,
	`title ~ ''`,
	`title:lower = 'hello'`,
	`title:lower ~ 'HEL'`,
	`title:lower > 'm'`,
	`body ~ 'hi'`,
	`views > 10`,
	`views >= 10`,
	`views < 0`,
	`views = 0`,
	`views = null`,
	`views != null`,
	`views != 3.5`,
	`views <= -2`,
	`views > -2.5 && views < 50`,
	`views > score`,
	`score >= views`,
	`published = true`,
	`published = false`,
	`published != true`,
	`published = 1`,
	`published = 0`,
	`published = null`,
	`status = 'draft'`,
	`status ?= 'draft'`,
	`status:lower = 'old'`,
	`status ~ 'D'`,
	`status = ''`,
	`labels = 'a'`,
	`labels ?= 'a'`,
	`labels != 'a'`,
	`labels ?!= 'a'`,
	`labels:each = 'a'`,
	`labels:each ?= 'a'`,
	`labels:each != 'D'`,
	`labels:length > 1`,
	`labels:length = 0`,
	`labels:length >= 2 && labels ?= 'D'`,
	`labels = null`,
	`labels = ''`,
	`labels != ''`,
	`labels ?~ 'b'`,
	`labels:lower ?= 'd'`,
	`labels:each ~ '%'`,
	`labels > 'b'`,
	`labels ?> 'b'`,
	`labels ?<= 'a'`,
	`labels ?= 'a' && labels ?= 'b'`,
	`labels ?= 'a' || labels ?= 'D'`,
	`files ?~ '.png'`,
	// A plain ~ on a multiple field is "some item contains"; :each leaves
	// the quantifier to the operator (see "Lists and to-many paths").
	`labels ~ 'a'`,
	`labels ~ 'd'`,
	`labels ~ ''`,
	`labels ~ '%'`,
	`labels ~ '_'`,
	`labels !~ 'a'`,
	`labels ?!~ 'a'`,
	`labels:lower ~ 'd'`,
	`labels:lower !~ 'd'`,
	`labels:each ~ 'a'`,
	`labels:each !~ 'a'`,
	`labels:each ?~ 'a'`,
	`labels:each ?!= 'a'`,
	`labels:each ?> 'b'`,
	`labels:each > 'b'`,
	`labels ~ @request.body.labels`,
	`labels ~ @request.body.words`,
	`labels:each ~ @request.body.labels`,
	`labels:each = @request.body.labels`,
	`labels:each ?!= @request.body.labels`,
	`labels ~ {:list}`,
	`labels ~ 'a' && labels ~ 'b'`,
	`labels ~ 'a' || labels:each = 'c'`,
	`title ~ labels`,
	`labels ~ title`,
	`labels ~ labels`,
	`labels:each ~ labels`,
	`files ~ 'PNG' && files !~ 'txt'`,
	`files:each ~ 'png'`,
	`files:each ?~ 'txt'`,
	`tags ~ '0001'`,
	`tags !~ '0001'`,
	`tags ~ 'missing'`,
	`tags:each ?= 'tag000000000001'`,
	`tags:each = 'tag000000000001'`,
	`author.friends ~ '0002'`,
	`author.friends !~ '0002'`,
	`author.friends:each ?= @request.auth.id`,
	`author.friends:each = @request.auth.id`,
	`@request.auth.friends ~ '0002' && views > 0`,
	`@request.auth.friends ~ 'user' && views > 0`,
	`@request.auth.friends:each ?= author`,
	`@request.auth.friends:each = author`,
	`comments_via_post.mentions ~ '0003'`,
	`comments_via_post.mentions ~ 'user'`,
	`comments_via_post.mentions !~ '0003'`,
	`comments_via_post.mentions ?~ '0003'`,
	`comments_via_post.mentions:each ?= @request.auth.id`,
	`comments_via_post.mentions:each = @request.auth.id`,
	`comments_via_post.mentions:each ~ 'user'`,
	`@collection.comments.mentions ~ '0001'`,
	`@collection.comments:m.post ?= id && @collection.comments:m.mentions ?~ '0001'`,
	`@request.body.labels:each ?= 'a' && views > 1`,
	`@request.body.labels:each = 'a' && views > 1`,
	`@request.body.labels:each ~ '%' && views > 1`,
	`@request.body.words:each ?~ 'nic' && published = true`,
	`@request.body.words:each ~ 'nic' || published = true`,
	`@request.body.labels:each ?= labels`,
	`@request.body.labels:each = labels`,
	`@request.body.labels ~ 'a' && views > 1`,
	`@request.body.empty:each = '' && views > 1`,
	`@request.body.title:each ?= title`,
	`files:length > 0`,
	`files ~ 'png'`,
	`author = @request.auth.id`,
	`author != @request.auth.id`,
	`author = ''`,
	`author = null`,
	`author.name = 'Ann'`,
	`author.name ~ 'a'`,
	`author.name = null`,
	`author.name != ''`,
	`author.age > 30`,
	`author.age = 0`,
	`author.verified = true`,
	`author.verified = false`,
	`author.email:lower ~ 'example'`,
	`author.role = 'admin' || author.role = 'editor'`,
	`author.id = author`,
	`author.avatar ~ 'png'`,
	`author.prefs.color = 'red'`,
	`author.friends ?= @request.auth.id`,
	`author.friends = @request.auth.id`,
	`author.friends:length > 1`,
	`author.friends:each != ''`,
	`author.friends.name ?= 'Bob'`,
	`author.friends.name = 'Bob'`,
	`author.friends.name ?~ 'b'`,
	`author.friends.friends.name ?= 'Cid'`,
	`author.friends.age ?> 30 && author.friends.verified ?= true`,
	`author.friends.age > 20`,
	`tags ?= 'tag000000000001'`,
	`tags:length = 2`,
	`tags.name ?= 'go'`,
	`tags.name = 'go'`,
	`tags.name ?= 'Go'`,
	`tags.name:lower ?= 'go'`,
	`tags.weight ?> 5`,
	`tags.weight > 5`,
	`tags.weight ?= null`,
	`tags.name ?= 'go' && tags.weight ?> 5`,
	`tags.name ?= 'go' || tags.weight ?< 2`,
	`(tags.name ?= 'go' && tags.weight ?> 5) || (tags.name ?= 'sql' && tags.weight ?< 5)`,
	`tags.name ?= 'go' && (tags.weight ?> 5 || views > 10)`,
	`tags.id ?= 'tag000000000001' && tags.id ?= 'tag000000000002'`,
	`tags ?= 'tag000000000001' && tags ?= 'tag000000000002'`,
	`tags.name = null`,
	`tags.name != null`,
	`comments_via_post.likes ?> 3`,
	`comments_via_post.likes > 3`,
	`comments_via_post.likes >= 0`,
	`comments_via_post.approved ?= true && comments_via_post.likes ?> 2`,
	`comments_via_post.approved = true`,
	`comments_via_post.author.name ?= 'Ann'`,
	`comments_via_post.author = author`,
	`comments_via_post.author ?= author`,
	`comments_via_post.message ?~ 'nice'`,
	`comments_via_post.message:lower ?= 'nice post'`,
	`comments_via_post.mentions ?= @request.auth.id`,
	`comments_via_post.mentions.name ?= 'Bob'`,
	`comments_via_post.mentions:length ?> 1`,
	`comments_via_post.id = null`,
	`comments_via_post.id != ''`,
	`comments_via_post.id ?!= ''`,
	`comments_via_post.post.title ?= title`,
	`comments_via_post.author.friends.name ?= 'Dee'`,
	`@collection.comments.post ?= id && @collection.comments.likes ?> 5`,
	`@collection.comments:c.post ?= id && @collection.comments:c.approved ?= true`,
	`@collection.comments:c.post ?= id && @collection.comments:d.post ?= id && @collection.comments:c.likes ?< @collection.comments:d.likes`,
	`@collection.users.name ?= 'Ann'`,
	`@collection.users.name ?= author.name`,
	`@collection.tags:t.name ?= 'go' && tags ?= @collection.tags:t.id`,
	`@collection.tags.weight > 100`,
	`@collection.users.id ?= author && @collection.users.verified ?= true`,
	`meta.color = 'red'`,
	`meta.color != 'red'`,
	`meta.color ~ 'RE'`,
	`meta.color = ''`,
	`meta.color = null`,
	`meta.color != null`,
	`meta.size > 2`,
	`meta.size = 0`,
	`meta.size = null`,
	`meta.flag = true`,
	`meta.flag = false`,
	`meta.flag = null`,
	`meta = null`,
	`meta != null`,
	`meta = 'red'`,
	`meta = 4`,
	`meta.nested.x = 'y'`,
	`meta.nested.x ?= 'z'`,
	`meta.color = @request.body.title`,
	`meta.size > @request.body.n`,
	`meta.color = @request.body.missing`,
	`created > '2025-06-15'`,
	`publishedAt < @now`,
	`publishedAt > @yesterday`,
	`publishedAt < @tomorrow && publishedAt != ''`,
	`publishedAt >= @todayStart && publishedAt <= @todayEnd`,
	`publishedAt > @monthStart`,
	`publishedAt < @monthEnd`,
	`publishedAt >= @yearStart && publishedAt <= @yearEnd`,
	`@month = 6 && views > 10`,
	`@weekday >= 0 && @hour = 13 && @minute = 45 && @second = 30 && @day = 15 && @year = 2025`,
	`@request.auth.id != ''`,
	`@request.auth.id = ''`,
	`@request.auth.name = 'Ann'`,
	`@request.auth.verified = published`,
	`@request.auth.collectionName = 'users'`,
	`@request.auth.collectionId = 'c_users' && views > 0`,
	`@request.auth.friends ?= author`,
	`@request.auth.friends.name ?= author.name`,
	`@request.auth.friends:length > 0 && published = true`,
	`@request.auth.age > views`,
	`@request.auth.posts_via_author.views ?> views`,
	`@request.auth.comments_via_author.post ?= id`,
	`@request.auth.comments_via_author.post = id`,
	`@request.body.title = title`,
	`@request.body.title:lower = title:lower`,
	`@request.body.views > views`,
	`@request.body.views = 5`,
	`@request.body.labels ?= labels`,
	`labels ?= @request.body.labels`,
	`labels = @request.body.labels`,
	`labels:each ?= @request.body.labels`,
	`@request.body.labels:each ?= labels`,
	`@request.body.labels:length = 2 && views > 1`,
	`@request.body.empty = null && views > 1`,
	`@request.body.empty:length = 0 && published = true`,
	`title ?~ @request.body.words`,
	`title ~ @request.body.words`,
	`title !~ @request.body.words`,
	`views ?= @request.body.nums`,
	`views ?> @request.body.nums`,
	`views > @request.body.nums`,
	`@request.body.title:isset = true && views > 10`,
	`@request.body.missing:isset = false && views < 10`,
	`@request.body.title:changed = true`,
	`@request.body.views:changed = false`,
	`@request.body.published:changed = true`,
	`@request.body.labels:changed = true`,
	`@request.body.status:changed = false`,
	`@request.body.published = published`,
	`@request.body.nested.k = 'v' && views > 1`,
	`@request.data.title = title`,
	`@request.query.q = 'foo' && title = ''`,
	`@request.query.page > 1 && views > 10`,
	`@request.query.missing:isset = true || views = 0`,
	`@request.headers.x_token = 'abc' && published = false`,
	`@request.headers.content_type ~ 'json' && title ~ 'o'`,
	`@request.method = 'GET' && views > 3`,
	`@request.context = 'default' && views < 3`,
	`title = {:t}`,
	`views > {:n}`,
	`published = {:b}`,
	`labels ?= {:list}`,
	`(title = 'Hello' || views > 5) && published = true`,
	`title = 'Hello' || views > 5 && published = true`,
	`((views > 1 || views < -1) && (status = 'live' || status = 'draft')) || labels:length = 3`,
	`id = 'post00000000001'`,
	`id > 'post00000000010' && id < 'post00000000020'`,
	`id ~ '0001'`,
	`title = title`,
	`title ~ body`,
	`body !~ title`,
	`title ~ author.name`,
	`author.name ?~ title`,
	`comments_via_post.message ?= title`,
	`title < author.name`,
	// ~ on every type compares the value's text: numbers as
	// core.FormatNumber writes them, bools as true/false, a json value as
	// the list of its scalars.
	`views ~ '1'`,
	`views ~ '3.5'`,
	`views ~ '.'`,
	`views !~ '0'`,
	`views ~ '-'`,
	`views ~ '0.3'`,
	`views ~ '0.30000000000000004'`,
	`views ~ '1000000000000000000000'`,
	`views ~ 'e'`,
	`views ~ '9007199254740990'`,
	`views ~ '1234567890123.12'`,
	`views ~ '0.00000025'`,
	`views ?~ '10'`,
	`score ~ '-'`,
	`score ~ '1' || views ~ '%0'`,
	`published ~ 'true'`,
	`published ~ 'FAL'`,
	`published !~ 'e'`,
	`published ?~ 'ru'`,
	`published ~ '1'`,
	`created ~ '2025-06-1'`,
	`publishedAt ~ ':3'`,
	`status ~ 'ra'`,
	`meta ~ 'red'`,
	`meta ~ '3'`,
	`meta ~ 'true'`,
	`meta ~ 'fal'`,
	`meta ~ 'y'`,
	`meta !~ 'r'`,
	`meta ?~ 'z'`,
	`meta ?!~ 'z'`,
	`meta ~ ''`,
	`meta !~ ''`,
	`meta ~ '1.5'`,
	`meta ~ '0.00000015'`,
	`meta ~ 'deep'`,
	`meta ~ '50\%'`,
	`meta ~ 'red\%'`,
	`meta ~ '12345678901234600000'`,
	`meta ~ '0.3'`,
	`meta ~ '2000'`,
	`meta ~ '-'`,
	`meta ~ 'null'`,
	`meta ~ '{'`,
	`meta.nested ~ 'y'`,
	`meta.size ~ '7'`,
	`meta.color ~ '5'`,
	`meta.tags ~ 'b'`,
	`meta.tags !~ 'b'`,
	`meta.missing ~ ''`,
	`meta.missing !~ 'x'`,
	`meta ~ title`,
	`title ~ meta`,
	`title ~ 'o' || views ~ 'o' || published ~ 'o' || meta ~ 'o' || labels ~ 'o' || status ~ 'o' || publishedAt ~ 'o'`,
	`title ~ '1' || views ~ '1' || published ~ '1' || meta ~ '1' || location ~ '1' || created ~ '1'`,
	`title ~ views`,
	`views ~ score`,
	`body !~ published`,
	`views ~ @request.body.views`,
	`title ~ {:n}`,
	`author.age ~ '5'`,
	`author.age !~ '3'`,
	`author.verified ~ 'true'`,
	`author.verified !~ 'true'`,
	`author.prefs ~ 'red'`,
	`author.home ~ '23'`,
	`tags.weight ~ '1'`,
	`tags.weight ?~ '1'`,
	`comments_via_post.likes ~ '3'`,
	`comments_via_post.approved ?~ 'false'`,
	`labels:length ~ '2'`,
	`@request.body.published:changed ~ 'tr'`,
	// geoPoint values and geoDistance.
	`location ~ '23.32'`,
	`location ~ '42'`,
	`location !~ '0'`,
	`location.lon ~ '23'`,
	`location.lat ~ '-'`,
	`author.home.lon ~ '2'`,
	`author.home.lon !~ '2'`,
	`location.lon = 0`,
	`location.lon > 20`,
	`location.lat < 0`,
	`location.lon = null`,
	`location.lat != null`,
	`location != null`,
	`location.lon = location.lat`,
	`author.home.lat > 40`,
	`author.home.lon = location.lon`,
	`author.home.lon = 0`,
	`@request.auth.home.lon < location.lon`,
	`geoDistance(location.lon, location.lat, 23.32, 42.69) < 25`,
	`geoDistance(location.lon, location.lat, 23.32, 42.69) < 200`,
	`geoDistance(location.lon, location.lat, 23.32, 42.69) > 10000`,
	`geoDistance(location.lon, location.lat, 23.32, 42.69) = 0`,
	`geoDistance(location.lon, location.lat, 23.32, 42.69) >= 0`,
	`geoDistance(location.lon, location.lat, -156.68, -42.69) > 20015`,
	`geoDistance(location.lon, location.lat, location.lon, location.lat) = 0`,
	`geoDistance(location.lon, location.lat, author.home.lon, author.home.lat) < 3000`,
	`geoDistance(author.home.lon, author.home.lat, 23.32, 42.69) < 50`,
	`geoDistance(location.lon, location.lat, 23.32, 42.69) < geoDistance(author.home.lon, author.home.lat, 23.32, 42.69)`,
	`geoDistance(comments_via_post.author.home.lon, comments_via_post.author.home.lat, 23.32, 42.69) < 100`,
	`geoDistance(comments_via_post.author.home.lon, comments_via_post.author.home.lat, location.lon, location.lat) < 1`,
	`geoDistance(comments_via_post.author.home.lon, comments_via_post.author.home.lat, 23.32, 42.69) ?> 100`,
	`geoDistance(@collection.users.home.lon, @collection.users.home.lat, location.lon, location.lat) < 5`,
	`geoDistance(tags.weight, 0, 0, 0) < 600`,
	`geoDistance(location.lon, location.lat, {:lon}, {:lat}) < 30`,
	`geoDistance(location.lon, location.lat, @request.body.lon, @request.body.lat) < @request.body.radius`,
	`geoDistance(location.lon, location.lat, @request.body.missing, null) < 1`,
	`geoDistance(views, score, 0, 0) > 100`,
	`geoDistance(meta.size, meta.size, 0, 0) > 100`,
	`geoDistance(labels:length, 0, 0, 0) > 100`,
	`geoDistance(1, 2, 3, 4) > 300 && views > 1`,
	`geoDistance(1, 2, 3, 4) < 300 || views > 1`,
	`geoDistance(1e308, -1e308, 0, 0) >= 0 && views > 1`,
	`geoDistance(location.lon, 1e308, -1e308, location.lat) >= 0`,
}

// userFilters exercise back-relations to a user and hidden fields.
var userFilters = []string{
	`posts_via_author.views ?> 10`,
	`posts_via_author.views > 10`,
	`posts_via_author.id = null`,
	`comments_via_author.likes > 1`,
	`comments_via_author.likes ?> 5 && comments_via_author.approved ?= false`,
	`comments_via_mentions.id ?!= ''`,
	`comments_via_mentions.post.title ?~ 'e'`,
	`users_via_friends.name ?= 'Ann'`,
	`friends.name ?= 'Ann'`,
	`friends ?= id`,
	`friends.friends ?= id`,
	`friends:length = 0`,
	`prefs.flag = true`,
	`name > email`,
	`email:lower ~ '@example.com'`,
	`role ?= 'admin'`,
	`age >= 25 && verified = true`,
	`id = @request.auth.id`,
	`@collection.posts.author ?= id && @collection.posts.published ?= true`,
	`age ~ '5' || verified ~ 'tr' || prefs ~ 'e' || home ~ '4'`,
	`geoDistance(home.lon, home.lat, 23.32, 42.69) < 30`,
	`geoDistance(posts_via_author.location.lon, posts_via_author.location.lat, home.lon, home.lat) < 30`,
	`geoDistance(friends.home.lon, friends.home.lat, home.lon, home.lat) < 3 && friends:length > 0`,
}

func TestDifferentialPosts(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	env := f.env("posts")
	n := len(f.records["posts"])
	partial := 0
	for _, expr := range postFilters {
		ids, err := f.matches(t, "posts", expr, env)
		if err != nil {
			t.Errorf("%s: %v", expr, err)
			continue
		}
		if len(ids) > 0 && len(ids) < n {
			partial++
		}
	}
	// The data must make most filters discriminate, or the test is weak.
	if partial < len(postFilters)*2/3 {
		t.Errorf("only %d of %d filters select a strict subset", partial, len(postFilters))
	}
}

func TestDifferentialUsers(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	env := f.env("users")
	for _, expr := range userFilters {
		if _, err := f.matches(t, "users", expr, env); err != nil {
			t.Errorf("%s: %v", expr, err)
		}
	}
	// Hidden fields only with AllowHidden, and then all three agree.
	env.AllowHidden = true
	for _, expr := range []string{`secret = 's1'`, `password = ''`, `friends.secret ?= 's2'`} {
		if _, err := f.matches(t, "users", expr, env); err != nil {
			t.Errorf("%s: %v", expr, err)
		}
	}
}

func TestDifferentialGuest(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	env := f.env("posts")
	env.Request = nil
	for _, expr := range []string{
		`@request.auth.id = ''`, `@request.auth.id != ''`, `author = @request.auth.id`,
		`@request.auth.anything.deep = null && views > 1`, `@request.body.title:isset = false && views > 10`,
		`@request.auth.friends ?= author || published = true`,
	} {
		if _, err := f.matches(t, "posts", expr, env); err != nil {
			t.Errorf("%s: %v", expr, err)
		}
	}
}

// randomFilter builds a random well-typed expression over posts.
func randomFilter(r *rand.Rand, depth int) string {
	if depth > 0 && r.IntN(3) == 0 {
		op := pick(r, " && ", " || ")
		return "(" + randomFilter(r, depth-1) + op + randomFilter(r, depth-1) + ")"
	}
	texts := []string{"title", "status", "author.name", "tags.name", "comments_via_post.message", "labels", "meta.color",
		"@request.body.title", "'Hello'", "'b'", "''", "null", "author.friends.name", "@collection.users.name",
		"title:lower", "labels:each", "files", "author", "@request.auth.id", "comments_via_post.author", "id", "'%o%'", "'M'"}
	nums := []string{"views", "score", "author.age", "tags.weight", "comments_via_post.likes", "meta.size", "labels:length",
		"3", "10", "0", "-2", "null", "@request.body.views", "@collection.tags.weight", "tags:length",
		"location.lon", "author.home.lat", "geoDistance(location.lon, location.lat, 23.32, 42.69)",
		"geoDistance(author.home.lon, author.home.lat, location.lon, location.lat)", "geoDistance(tags.weight, 1, views, 2)"}
	bools := []string{"published", "author.verified", "comments_via_post.approved", "meta.flag", "true", "false", "null"}
	ops := []string{"=", "!=", ">", ">=", "<", "<=", "~", "!~"}
	var pool []string
	switch r.IntN(4) {
	case 0:
		pool = texts
	case 1:
		pool = nums
		ops = ops[:6]
	case 2:
		pool = bools
		ops = ops[:2]
	default:
		// ~ compares any two values as text.
		pool = append(append(append([]string{"meta", "location", "author.prefs"}, texts...), nums...), bools...)
		ops = ops[6:]
	}
	op := pick(r, ops...)
	if r.IntN(2) == 0 {
		op = "?" + op
	}
	return pick(r, pool...) + " " + op + " " + pick(r, pool...)
}

func TestDifferentialRandom(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	env := f.env("posts")
	r := rand.New(rand.NewPCG(42, 42))
	checked := 0
	for range 400 {
		expr := randomFilter(r, 3)
		if _, err := f.matches(t, "posts", expr, env); err != nil {
			if core.KindOf(err) != core.KindInvalid {
				t.Errorf("%s: %v", expr, err)
			}
			continue
		}
		checked++
	}
	if checked < 200 {
		t.Errorf("only %d random filters checked", checked)
	}
	t.Logf("%d random filters agree", checked)
}

func TestDifferentialManyRandomSeeds(t *testing.T) {
	if testing.Short() {
		t.Skip("long")
	}
	t.Parallel()
	f := newFixture(t)
	env := f.env("posts")
	for seed := range uint64(5) {
		r := rand.New(rand.NewPCG(seed, 99))
		for range 100 {
			expr := randomFilter(r, 2)
			if _, err := f.matches(t, "posts", expr, env); err != nil && core.KindOf(err) != core.KindInvalid {
				t.Errorf("%s: %v", expr, err)
			}
		}
	}
}
