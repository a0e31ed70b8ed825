// Package filter implements PocketBase's filter and API-rule language:
// one parser and type checker whose result is compiled to parameterized
// SQL for SQLite and PostgreSQL (Compile, CompileExpr), evaluated in
// memory (Eval), plus the sort parameter (CompileSort). The three back
// ends give the same answer for the same data; a differential test checks
// it against real engines.
//
// # Syntax
//
//	expr       = and { "||" and }
//	and        = primary { "&&" primary }
//	primary    = "(" expr ")" | operand op operand
//	op         = "=" | "!=" | ">" | ">=" | "<" | "<=" | "~" | "!~"   (each also with a leading "?")
//	operand    = value | call
//	value      = 'text' | "text" | number | true | false | null | {:param} | identifier[:modifier]
//	call       = name "(" [ value { "," value } ] ")"
//
// A backslash in a quoted string escapes the quote character and is kept
// as written otherwise. Numbers may be negative and fractional. "//"
// starts a comment that runs to the end of the line. The empty expression
// matches every record.
//
// Identifiers:
//
//   - a field of the collection (id included): title
//   - a path through relation fields: author.name, post.author.email (at
//     most MaxPathHops relations)
//   - a back-relation, the records of comments whose relation field post
//     points at this record: comments_via_post.message
//   - a key path inside a json field: meta.color, meta.a.b (keys are names)
//   - a part of a geoPoint field, a number: location.lon, location.lat
//   - every record of another collection: @collection.users.name, or with
//     an alias so the same collection can be joined twice:
//     @collection.users:u.name
//   - the request: @request.auth.<field or relation path>,
//     @request.auth.collectionName, @request.auth.collectionId,
//     @request.body.<key>[.<key>...] (also @request.data.*),
//     @request.query.<key>, @request.headers.<name> (lowercase, dashes as
//     underscores), @request.method, @request.context
//   - date macros, UTC: @now @yesterday @tomorrow @todayStart @todayEnd
//     @monthStart @monthEnd @yearStart @yearEnd (text in core.DateLayout)
//     and @second @minute @hour @weekday (0 = Sunday) @day @month @year
//     (numbers)
//
// Modifiers: :lower (ASCII lowercase of a text value), :length (number of
// items of a multiple field or of a request array), :each (see below),
// :isset (whether @request.body or @request.query has the key) and
// :changed (@request.body.f:changed: the body has f and its value differs
// from the record's stored value).
//
// # What @request.body is
//
// The filter package reads Request.Body as given. For record rules the
// service layer gives it the body as the record will store it, never the
// raw keys a client sent: every value converted by its field (a form's
// "on" is true for a bool, " 2030-01-01" is the date 2030-01-01 00:00:00.000Z),
// and every modifier applied and reported under the plain field name
// ({"score+": 5} on a stored 8 is score = 13; {"tags-": "a"} is tags
// without "a"). A modifier key sets its field for :isset, and :changed
// compares the resolved value with the stored one. docs/rules.md has the
// table for each field type.
//
// For a guest, every @request.auth.* value is null, so @request.auth.id is
// "". Request values and parameters are known when a filter is compiled:
// they become bound arguments, and a comparison of two such values is
// decided at compile time.
//
// # Types
//
// Every comparison is carried out in one type, text, number or bool,
// chosen when the filter is checked. ~ and !~ compare any two values as
// text (see "Text search"). For the other operators, operands whose types
// differ are an error (text with number, bool with number other than the
// literals 0 and 1, bool with <), except that a request value or parameter
// takes the type of the other operand: "3" compared with a number field is
// 3, "true" compared with a bool field is true, and a number compared with
// text is its text (core.FormatNumber). A body value for one of the
// collection's fields is first read as that field reads it.
//
// Dates are text and compare as text, which is chronological for
// core.DateLayout. Text compares by bytes everywhere (PostgreSQL is told
// COLLATE "C"). ~ is LIKE: a constant right operand that contains % is a
// pattern as written, where a backslash makes the next character literal;
// any other right operand, constant or not, is searched for as a
// substring. Both sides of ~ compare ASCII letters case-insensitively and
// other characters exactly.
//
// A json value takes the type of what it is compared with and counts only
// when the JSON value has that type: meta.size > 2 looks at numbers, and a
// string "7" there is treated as null. json = null is true when the value
// is missing or JSON null. Two json values cannot be compared. Under ~ a
// json value is the list of its scalars (see "Text search").
//
// # Text search
//
// ~ works on every field type, as in PocketBase: both operands are
// compared as text, so one filter can search all of a collection's
// fields (title ~ "x" || views ~ "x" || published ~ "x" || meta ~ "x").
// The text of a value is the same on SQLite, PostgreSQL and in memory:
//
//   - text, editor, email, url, date, select, relation, file: the value as
//     stored (dates in core.DateLayout); a multiple field item by item
//     (see "Lists and to-many paths");
//   - number: core.FormatNumber, the number in full when it is whole and
//     below 2^53 in magnitude, else rounded to 15 significant digits, never
//     with an exponent or a trailing ".0": 3, -2.5, 0.3 (also for 0.1+0.2),
//     1000000000000000000000. So views ~ "3" holds for 3, 13 and 0.3, and
//     views ~ "3.0" for none of them;
//   - bool: true or false (not the 1 and 0 an engine keeps);
//   - json: the list of the document's scalars at any depth (or of those
//     under a key path), strings as their text, numbers and bools as
//     above, JSON null as "", and handled as a multiple field is: meta ~
//     "red" holds when some scalar contains "red", meta !~ "red" when none
//     does, and a document with no scalar (null, {}, []) counts as one "".
//     Keys, quotes, brackets and commas are not part of it, so meta ~
//     "color" does not find the key "color". A geoPoint is such a document,
//     {"lon": 23.32, "lat": 42.69}: location ~ "42.6" looks at both numbers;
//   - a value with no record behind it (author.views with no author) is "".
//
// PocketBase's SQLite compares what the engine stores instead (1 and 0
// for bools, the JSON text of a json field with its keys and quotes);
// Tortoise compares what a client reads in the record, the same way on
// both engines.
//
// # geoPoint and geoDistance
//
// A geoPoint field holds {"lon": ..., "lat": ...} (core.GeoPoint).
// location.lon and location.lat are its numbers: they compare as numbers,
// are 0 for a point never set, and sort (sort=-location.lat).
//
// geoDistance(lonA, latA, lonB, latB) is the great-circle distance in
// kilometres between two points given in degrees, by the haversine formula
// on a sphere of radius 6371 km, rounded to the millimetre:
//
//	geoDistance(location.lon, location.lat, 23.32, 42.69) < 25
//	geoDistance(author.home.lon, author.home.lat, location.lon, location.lat) <= @request.query.km
//
// Each argument is one number: a number literal, a number field, a part of
// a geoPoint, a json key path (read as a number), or a request value or
// parameter (read as a number, "42.69" is 42.69). null, a missing value
// and a missing related record are 0, as everywhere (see "Null and empty
// values"); lists (a multiple field, :each, a request array) and calls are
// refused. Arguments beyond ±1e300 count as ±1e300. When an argument comes
// through a to-many relation the function still yields one distance per
// record reached, and the comparison holds when it holds for some of them,
// as in PocketBase: geoDistance(offices.spot.lon, offices.spot.lat, 23.32,
// 42.69) < 25 means some office is within 25 km (and the lon and lat are
// those of the same office: see "Shared rows").
//
// The three back ends compute the formula in the same steps, but Go's,
// SQLite's and PostgreSQL's math libraries differ in the last bits of sin,
// cos and asin; the rounding to the millimetre hides that, so they agree
// unless a distance falls within about 1e-12 km of half a millimetre.
//
// # Null and empty values
//
// null is the zero value of the comparison's type: "" for text, 0 for
// numbers, false for bools, and so are a missing related record, a missing
// request value, and an empty list. title = null is title = ""; views =
// null is views = 0; author.name = null holds when there is no author (or
// the author's name is empty); labels = null holds for an empty multiple
// field. Comparisons therefore never see SQL NULL and are always true or
// false.
//
// # Lists and to-many paths
//
// An operand may yield several values: a multiple select, file or relation
// field, a request array, or any path through a to-many hop (a multiple
// relation, a back-relation, @collection). An empty list counts as one
// null value, with or without :each: labels = null, labels:each = null
// and labels !~ 'a' hold for an empty labels, labels:each = 'a',
// labels:each ?= 'a' and labels ~ 'a' do not. Then:
//
//   - a plain operator (=, !=, >, !~ ...) holds when it holds for every
//     combination of values of both operands: labels = 'a' means every
//     label is "a" (and there is at least one, since an empty list is
//     null); labels !~ 'a' means no label contains "a";
//     comments_via_post.likes > 3 means every comment has more than 3
//     likes (and there is a comment);
//   - except that under a plain ~ the values of a multiple field itself,
//     written without :each at the end of a path (labels, files, tags,
//     author.friends, @request.auth.friends, also with :lower), stand for
//     some of them: labels ~ 'a' means some label contains "a", as in
//     PocketBase, which matches the field's stored JSON text. The rest of
//     the comparison keeps "every": comments_via_post.mentions ~ 'u1' means
//     every comment has a mention containing "u1" (and there is a
//     comment); labels ~ @request.body.words means every word is contained
//     in some label. A request array is never such a field;
//   - a ? operator holds when it holds for at least one combination:
//     labels ?= 'a' means some label is "a"; labels ?= @request.body.labels
//     means some label is one of the body's labels;
//   - :each, on a multiple field or a request value, makes the operand a
//     list of items and leaves the quantifier to the operator, as
//     PocketBase's json_each does: labels:each = 'a' means every label is
//     "a" and labels:each ?= 'a' that some label is; under ~ it is where
//     :each differs from the bare field: labels:each ~ 'a' means every
//     label contains "a", like @request.body.tags:each ~ 'pb_%' for every
//     item of the body's tags.
//
// # Shared rows
//
// As in a SQL join, all ? comparisons that reach a record through the same
// to-many path see the same record: in
//
//	@collection.members.user ?= @request.auth.id && @collection.members.team ?= team
//
// one member record must satisfy both; write @collection.members:a and
// @collection.members:b for independent records. The same holds for
// relation paths (comments_via_post.approved ?= true &&
// comments_via_post.likes ?> 2 asks for one approved comment with more
// than 2 likes). The record is chosen at the smallest part of the
// expression that contains every such comparison, which, since the
// language has no negation, is the same as choosing it for the whole
// expression. Plain-operator comparisons range over all records on their
// own, and the values of a multiple field itself (labels, tags ids) are
// never shared: labels ?= 'a' && labels ?= 'b' is "has a and has b".
//
// # Access
//
// Hidden and password fields can be used only with Env.AllowHidden;
// otherwise they are reported exactly like unknown fields, so a filter
// cannot probe them. Every error about an expression is a *core.Error of
// KindInvalid with a message that is safe to show, naming the position.
//
// # Access through relations
//
// A client's filter (Env.AllowHidden false) sees only the related records
// the caller could list. Whenever it reaches records of a collection other
// than the filtered one — through a relation path (author.name), a
// back-relation (comments_via_post.likes), @collection.X, or a relation of
// @request.auth (@request.auth.friends.name) — that collection's listRule
// decides which of them exist for the filter:
//
//   - "" lets every record through;
//   - nil (locked, superusers only) lets none through;
//   - any other rule is checked with the same Env.Request, so
//     @request.auth is the caller, and holds for the records it keeps.
//     The rule is compiled with AllowHidden, as rules are trusted, so it is
//     not itself restricted and cannot recurse; its joins count towards
//     MaxJoins. A rule that does not check locks the collection.
//
// A record the rule hides is treated exactly as a missing one: a single
// relation to it reads null values (author.name = null holds), a to-many
// hop does not yield it, and @collection does not list it. A locked
// collection is therefore no error either: nothing tells "hidden" from
// "absent", in values or in messages. The filtered record itself and
// the authenticated record (@request.auth.<field>) are not restricted.
//
// The email field of an auth collection is read the same way as in
// PocketBase: a comparison that reads it holds only where that record's
// emailVisibility is true or the record is the caller's own (same
// collection, id = @request.auth.id); otherwise, and when there is no
// record, the comparison is false whatever the operator, so email != 'x'
// does not match a hidden email. This holds for the filtered collection
// too.
//
// CompileSort follows the same rules: a hidden email sorts as empty (the
// caller's own included, as a sort has no bound values), a field behind a
// locked collection sorts as its zero value, and sorting through a
// collection whose listRule needs request values is refused.
//
// Env.AllowHidden (API rules, superusers) switches all of this off.
//
// # Limits
//
// A filter comes from anyone who may list a collection, so its cost is
// bounded before it reaches a database. An expression is refused, with a
// KindInvalid error, when it is longer than MaxLength bytes, nests
// parentheses deeper than MaxDepth, follows more than MaxPathHops
// relations in one identifier, reaches more than MaxJoins related tables
// in all, or uses more than MaxCollections distinct @collection sources. A
// sort has at most MaxSortFields keys.
//
// MaxCollections exists because @collection, unlike a relation, is not
// tied to the filtered record: each source ranges over every record of its
// collection, and sources compared with one another (@collection.posts:a0.id
// ?!= @collection.posts:a1.title && @collection.posts:a1.id ?!= ...) are
// bound together, so the combinations to try grow as the collection's size
// to the power of their number. Each alias is a source of its own; the same
// source written twice counts once. For a client filter the @collection
// sources of the listRules it brings in (see "Access through relations")
// count with its own, as their joins count towards MaxJoins. Rules go
// through the same check, so a rule over a limit is refused when its
// collection is saved, and a stored one fails closed.
//
// These limits bound the shape of a query, not its cost on large data;
// the stores stop any read that runs longer than their read timeout, and
// the API caps the filtered list requests one client may have in progress.
//
// # SQL
//
// The SQL uses ? placeholders for every value and refers to the filtered
// table as store.MainAlias. Relation paths become scalar subqueries and
// to-many hops correlated EXISTS subqueries over LEFT JOINs, so rows are
// never duplicated. The listRule of a related collection is part of the
// subquery's WHERE or the join's ON condition. The storage model is the one described in package
// store. On SQLite the SQL calls one function of Tortoise's own,
// core.SQLiteNumberText, which package store/sqlite registers on every
// connection; PostgreSQL needs no extension (geoDistance uses its plain
// math functions).
package filter
