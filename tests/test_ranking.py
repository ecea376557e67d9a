"""The ranking stage through the real CLI: implementations before their tests, definitions
before their uses, the file named after a symbol first."""

from __future__ import annotations

from pathlib import Path

import pytest

from codesearch.ranking import is_support
from conftest import ask_json, write_repo

AUTH = '''
class HTTPDigestAuth:
    """Attaches HTTP digest authentication to a request."""

    def __init__(self, username, password):
        self.username = username
        self.password = password
'''
AUTH_TESTS = '''
from auth import HTTPDigestAuth


def test_digest_authentication_sends_digest_auth_header():
    auth = HTTPDigestAuth("user", "pass")  # digest authentication of a request
    assert auth.username == "user"


def test_digest_authentication_retries_digest_auth():
    auth = HTTPDigestAuth("user", "pass")  # digest authentication again
    assert auth.password == "pass"
'''


def top_paths(cli, root: Path, query: str, k: int = 3) -> list[str]:
    return [hit["path"] for hit in ask_json(cli, query, "-k", str(k), "--index", root)["results"]]


def best_path(tmp_path: Path, cli, files: dict[str, str], query: str) -> str:
    """The first hit's path for `query` over a repository of `files`, indexed through the CLI."""
    root = write_repo(tmp_path / "repo", files)
    assert cli("index", root, "--quiet").exit_code == 0
    return top_paths(cli, root, query)[0]


@pytest.fixture
def tested(tmp_path: Path, cli) -> Path:
    root = write_repo(tmp_path / "repo", {"src/auth.py": AUTH, "tests/test_auth.py": AUTH_TESTS})
    assert cli("index", root, "--quiet").exit_code == 0
    return root


def test_the_implementation_outranks_its_tests(tested: Path, cli) -> None:
    assert top_paths(cli, tested, "digest authentication of a request")[0] == "src/auth.py"


def test_a_query_that_asks_for_tests_gets_them(tested: Path, cli) -> None:
    assert top_paths(cli, tested, "tests of digest authentication")[0] == "tests/test_auth.py"


def test_a_symbol_query_finds_its_definition_before_its_uses(tmp_path: Path, cli) -> None:
    uses = {f"app/use{i}.py": f"from settings import Settings\n\ndef load{i}():\n    return Settings().load(Settings)\n" for i in range(6)}
    definition = "class Settings:\n    def load(self, source):\n        return dict(source)\n"
    assert best_path(tmp_path, cli, {**uses, "lib/settings.py": definition}, "Settings") == "lib/settings.py"


def test_a_symbol_query_finds_the_file_named_after_it(tmp_path: Path, cli) -> None:
    files = {f"src/Use{i}.kt": f"fun use{i}(t: Table) = t.scan()\n" for i in range(6)}
    body = "".join(f"    fun column{i}(name: String) = rows.map {{ it[name] }}.filter {{ it != null }}\n" for i in range(40))
    assert best_path(tmp_path, cli, {**files, "src/Table.kt": "open class Table {\n" + body + "}\n"}, "Table") == "src/Table.kt"


def test_a_name_made_of_the_query_words_comes_first(tmp_path: Path, cli) -> None:
    files = {
        "config/loader.py": (
            'def load_settings(path):\n    """Parse the config file and return the config as a dict: parse config values."""\n'
            "    return parse(read(path), config=True)\n"
        ),
        "app/settings.py": "def parse_config(path):\n    with open(path) as source:\n        return load(source)\n",
        "app/page.py": "def render_page(template):\n    return template.format()\n",
        "app/net.py": "def connect(url):\n    return socket(url)\n",
    }
    assert best_path(tmp_path, cli, files, "parse config") == "app/settings.py"


def test_a_files_second_and_later_chunks_yield_to_another_file(tmp_path: Path, cli) -> None:
    parsers = "".join(f"def parse_json_{name}(text):\n    return json_parse(text, {name!r})\n\n\n" for name in "abcdef")
    other = "def parse_json_g(text):\n    return json_parse(text, 'g')\n"
    unrelated = "".join(f"def send_{name}(sock):\n    return sock.send({name!r})\n\n\n" for name in "abc")
    files = {"lib/formats.py": parsers, "lib/reader.py": other, "lib/net.py": unrelated}
    root = write_repo(tmp_path / "repo", files)
    assert cli("index", root, "--quiet").exit_code == 0
    ranked = top_paths(cli, root, "parse json", k=7)
    assert ranked[:2] == ["lib/formats.py", "lib/reader.py"]  # one of seven alike without the spread


@pytest.mark.parametrize(
    ("path", "support"),
    [
        ("tests/test_auth.py", True), ("src/auth_test.go", True), ("web/button.test.tsx", True),
        ("src/FooTests.cs", True), ("examples/basic.rs", True), ("_examples/rest/main.go", True), ("docs/conf.py", True),
        ("absl/hash/hash_benchmark.cc", True), ("absl/hash/hash_testing.h", True),
        ("src/contest.py", False), ("src/latest.py", False), ("src/testing_utils_impl/x.py", False),
        ("src/benchmark_runner.py", False),
    ],
)
def test_support_code_is_told_by_its_path(path: str, support: bool) -> None:
    assert is_support(path) is support


README = "# Aliases\n\nResolve an alias to a concrete version: nvm resolves the alias name to the version it names.\n"
SCRIPTS = {
    "tool.sh": 'lookup() {\n  local alias_name="$1"\n  # an alias names a version\n  cat "$ALIAS_DIR/$alias_name"\n}\n',
    "net.sh": 'download() {\n  curl -fsSL "$1" -o "$2"\n}\n',
    "log.sh": 'log_line() {\n  printf "%s\\n" "$*" >&2\n}\n',
    "path.sh": 'add_path() {\n  export PATH="$1/bin:$PATH"\n}\n',
}


def test_code_outranks_the_prose_that_describes_it(tmp_path: Path, cli) -> None:
    assert best_path(tmp_path, cli, {"README.md": README, "AGENTS.md": README, **SCRIPTS}, "resolve an alias to a version") == "tool.sh"


def test_a_query_that_asks_for_docs_gets_the_prose(tmp_path: Path, cli) -> None:
    assert best_path(tmp_path, cli, {"README.md": README, **SCRIPTS}, "readme: resolve an alias to a version") == "README.md"


def test_a_file_named_after_the_query_words_comes_first(tmp_path: Path, cli) -> None:
    files = {
        "src/redirects.py": "def follow(response, history):\n    while response.is_moved:\n        response = fetch(response.location)\n        history.append(response)\n    return response\n",
        "src/session.py": "def send(request, redirects=True, follow=True):\n    # follow redirects unless asked not to\n    return transport(request, allow_redirects=redirects)\n",
        "src/cookies.py": "def merge(jar, cookies):\n    jar.update(cookies)\n    return jar\n",
    }
    assert best_path(tmp_path, cli, files, "how redirects are followed") == "src/redirects.py"


def test_a_symbol_query_finds_a_definition_that_retrieval_ranked_below_its_uses(tmp_path: Path, cli) -> None:
    uses = {
        f"app/use{i}.py": f"from conf import Settings\n\n\ndef load{i}(path):\n    settings = Settings(path)\n    return Settings.merge(settings, Settings.defaults(Settings))\n"
        for i in range(80)
    }
    definition = "class Settings:\n    def __init__(self, path):\n        self.path = path\n"
    assert best_path(tmp_path, cli, {**uses, "lib/conf.py": definition}, "Settings") == "lib/conf.py"


def test_a_file_named_for_the_querys_subject_outranks_longer_names_holding_its_words(tmp_path: Path, cli) -> None:
    files = {
        "src/response.py": "class Response:\n    def __init__(self, code, payload):\n        self.code = code\n        self.payload = payload\n",
        "src/http_response_encoder.py": (
            "def write_all(message, stream):\n    # write the http response: its type line, then the response construction\n"
            "    stream.write(message.status_line())\n    stream.write(message.body)\n"
        ),
        "src/request.py": "class Request:\n    def __init__(self, method, url):\n        self.method = method\n        self.url = url\n",
        "src/router.py": "def route(path, handlers):\n    return handlers.get(path)\n",
    }
    assert best_path(tmp_path, cli, files, "response type and http response construction") == "src/response.py"


REQUEST_FILES = {
    "src/Request.kt": "class Request(val method: String, val url: String) {\n    fun header(name: String): String? = null\n}\n",
    "src/RequestRepresentation.kt": (
        "// the http request type: its representation on the wire, request line and request headers\n"
        "fun representHttpRequest(request: Request, out: Sink) {\n    out.write(request.method)\n    out.write(request.url)\n}\n"
    ),
    "src/HttpTypes.kt": "// http types: request type, response type, request representation\nfun typeOf(request: Request): String = \"http\"\n",
    "src/Router.kt": "fun route(path: String, handlers: Map<String, Handler>) = handlers[path]\n",
}


def test_a_capitalized_name_in_a_sentence_finds_its_definition_in_its_file(tmp_path: Path, cli) -> None:
    assert best_path(tmp_path, cli, REQUEST_FILES, "Request type and HTTP request representation") == "src/Request.kt"


def test_a_capitalized_name_is_found_where_retrieval_missed_its_definition(tmp_path: Path, cli) -> None:
    uses = {
        f"app/merge{i}.py": f"from conf import Settings\n\n\ndef merge{i}(settings, defaults):\n    # merge settings with defaults\n    return Settings.merge(settings, defaults)\n"
        for i in range(80)
    }
    definition = "class Settings:\n    def __init__(self, path):\n        self.path = path\n"
    assert best_path(tmp_path, cli, {**uses, "lib/settings.py": definition}, "how Settings are merged with defaults") == "lib/settings.py"


def test_the_namespace_every_module_shares_is_not_taken_for_the_subject(tmp_path: Path, cli) -> None:
    modules = {
        f"lib/phoenix/{name}.ex": f"defmodule Phoenix.{name.title()} do\n  def {name}_call(conn, opts) do\n    conn\n  end\nend\n"
        for name in ("socket", "channel", "endpoint", "presence", "token")
    }
    router = "defmodule Phoenix.Router do\n  def match_route(conn, path) do\n    dispatch(conn, path)\n  end\nend\n"
    root_module = "defmodule Phoenix do\n  @moduledoc \"The Phoenix web framework.\"\n  def start(_type, _args), do: :ok\nend\n"
    assert best_path(tmp_path, cli, {**modules, "lib/phoenix/router.ex": router, "lib/phoenix.ex": root_module}, "how Phoenix matches a route") == "lib/phoenix/router.ex"


def test_a_query_word_matches_a_file_name_by_its_root(tmp_path: Path, cli) -> None:
    files = {
        "src/Query.kt": "class Query(val table: Table) {\n    fun where(op: Op): Query = this\n}\n",
        "src/Render.kt": "// sql: how sql is built, sql text and sql parameters\nfun buildSql(parts: List<String>): String = parts.joinToString(\" \")\n",
        "src/Statements.kt": "fun execute(sql: String, args: List<Any>) = connection.run(sql, args)\n",
    }
    assert best_path(tmp_path, cli, files, "how queries are built") == "src/Query.kt"


def test_a_capitalized_name_is_found_in_its_modules_own_file(tmp_path: Path, cli) -> None:
    files = {
        "src/de/mod.rs": "pub trait MapAccess {\n    fn next_key(&mut self) -> Option<Key>;\n}\n",
        "src/de/impls.rs": (
            "// map access and seq access for collections: deserializing maps with map access\n"
            "fn visit_map<A: MapAccess>(mut access: A) -> Map {\n    let mut map = Map::new();\n"
            "    while let Some(key) = access.next_key() { map.insert(key); }\n    map\n}\n"
        ),
        "src/ser/mod.rs": "pub trait Serializer {\n    fn serialize_u8(self, v: u8);\n}\n",
    }
    assert best_path(tmp_path, cli, files, "MapAccess for deserializing collections") == "src/de/mod.rs"


def test_a_query_for_a_traits_implementations_gets_them_not_the_trait(tmp_path: Path, cli) -> None:
    files = {
        "src/ser/mod.rs": "pub trait Serialize {\n    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error>;\n}\n",
        "src/ser/impls.rs": "impl Serialize for String {\n    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {\n        serializer.serialize_str(self)\n    }\n}\n",
        "src/de/mod.rs": "pub trait Deserialize {\n    fn deserialize<D: Deserializer>(deserializer: D) -> Result<Self, D::Error>;\n}\n",
    }
    assert best_path(tmp_path, cli, files, "standard library type Serialize implementations") == "src/ser/impls.rs"


LEGACY_FILES = {
    "src/v3/types.ts": "// parse a string schema: check the input is a string\nexport function parseString(input: unknown) {\n  if (typeof input !== 'string') throw new Error('not a string');\n  return input;\n}\n",
    "src/v4/core/checks.ts": "// string schema: the input must be a string\nexport function checkString(ctx: Ctx) {\n  ctx.assert(typeof ctx.value === 'string', ctx.issue('invalid_type'));\n}\n",
    "src/v4/core/numbers.ts": "export function checkNumber(ctx: Ctx) {\n  ctx.assert(typeof ctx.value === 'number');\n}\n",
}


def test_an_older_version_kept_beside_a_newer_one_yields_to_it(tmp_path: Path, cli) -> None:
    assert best_path(tmp_path, cli, LEGACY_FILES, "parse a string schema") == "src/v4/core/checks.ts"


def test_a_query_that_names_the_older_version_gets_it(tmp_path: Path, cli) -> None:
    assert best_path(tmp_path, cli, LEGACY_FILES, "v3 parse a string schema") == "src/v3/types.ts"


def test_query_words_match_a_name_whatever_their_endings(tmp_path: Path, cli) -> None:
    files = {
        "pulls/service.go": "func (s *Service) CreateReviewer(owner string, number int, logins []string) error {\n\treturn s.post(owner, number, logins)\n}\n",
        "pulls/notes.go": "// notes that reviewers leave\nfunc (s *Service) Note(owner string, body string) error {\n\treturn s.send(owner, body)\n}\n",
        "pulls/merge.go": "func (s *Service) Merge(owner string) error {\n\treturn s.put(owner)\n}\n",
    }
    assert best_path(tmp_path, cli, files, "creates reviewers for a pull") == "pulls/service.go"


def test_a_snake_case_name_in_a_sentence_lifts_its_definition(tmp_path: Path, cli) -> None:
    files = {
        "lib/functions.bash": "bats_pipe() {\n  local -a commands\n  eval \"${commands[*]}\"\n}\n",
        "lib/tracing.bash": "bats_trace_pipe() {\n  # chains commands: bats_pipe chains commands and captures the exit codes of the commands\n  bats_pipe \"$@\"\n  status=$?\n}\n",
        "lib/format.bash": "bats_format() {\n  printf '%s\\n' \"$1\"\n}\n",
    }
    assert best_path(tmp_path, cli, files, "how bats_pipe chains commands and captures exit codes") == "lib/functions.bash"


def test_a_file_named_by_the_initials_of_query_words_is_lifted(tmp_path: Path, cli) -> None:
    files = {
        "src/fs.c": "int uv_fs_read(uv_fs_t* req) {\n  return read(req->fd, req->buf, req->len);\n}\n",
        "src/stream.c": "/* reads for a system stream, as a file would */\nint uv_stream_read(uv_stream_t* s) {\n  return recv(s->fd, s->buf, s->len);\n}\n",
        "src/loop.c": "int uv_run(uv_loop_t* loop) {\n  return poll(loop);\n}\n",
    }
    assert best_path(tmp_path, cli, files, "file system reads") == "src/fs.c"


def test_a_part_of_a_file_name_spelled_by_initials_lifts_the_file(tmp_path: Path, cli) -> None:
    files = {
        "src/io/async_fd.rs": "pub struct AsyncFd<T> {\n    inner: T,\n    registration: Registration,\n}\n",
        "src/fs/file.rs": "// an async file: reads and writes of a file through the blocking pool\npub struct File {\n    std: StdFile,\n}\n",
        "src/net/tcp.rs": "pub struct TcpStream {\n    io: PollEvented,\n}\n",
    }
    assert best_path(tmp_path, cli, files, "integrating a non-async file descriptor with the reactor") == "src/io/async_fd.rs"


def test_a_part_of_a_name_that_is_a_stopword_spells_no_initials(tmp_path: Path, cli) -> None:
    files = {
        "src/EnumAsString.cs": "public class EnumAsString {\n    public string Name(object value) => value.ToString();\n}\n",
        "src/EnumFormatter.cs": "// enums are serialized as their underlying integers\npublic class EnumFormatter {\n    public int Write(object value) => (int)value;\n}\n",
    }
    assert best_path(tmp_path, cli, files, "how enums are serialized") == "src/EnumFormatter.cs"


def test_a_private_twin_yields_to_the_public_module_of_its_name(tmp_path: Path, cli) -> None:
    files = {
        "pkg/_internal/_fields.py": "def collect_fields(cls):\n    # collect the declared fields of a model class, with their constraints\n    return {name: field for name, field in vars(cls).items() if is_field(field)}\n",
        "pkg/fields.py": "def Field(default=None, **constraints):\n    # a model field: its default and constraints\n    return FieldInfo(default, constraints)\n",
        "pkg/net.py": "def connect(url):\n    return socket(url)\n",
    }
    assert best_path(tmp_path, cli, files, "how model fields are declared with constraints") == "pkg/fields.py"


def test_a_frozen_copy_of_the_previous_version_yields_to_the_package(tmp_path: Path, cli) -> None:
    files = {
        "pkg/v1/validators.py": "def validate_email(value):\n    # check an email address: validate the address\n    return EMAIL.match(value)\n",
        "pkg/validators.py": "def email_validator(value):\n    # an email address\n    return parse_address(value)\n",
        "pkg/net.py": "def connect(url):\n    return socket(url)\n",
    }
    assert best_path(tmp_path, cli, files, "validate an email address") == "pkg/validators.py"


def test_a_vendored_copy_yields_to_the_original(tmp_path: Path, cli) -> None:
    parse = "def parse_header(line):\n    # split a header line into its name and value\n    name, _, value = line.partition(':')\n    return name.strip(), value.strip()\n"
    files = {"deps/hc/headers.py": parse, "http_client/headers.py": parse, "http_client/body.py": "def read_body(stream):\n    return stream.read()\n"}
    assert best_path(tmp_path, cli, files, "split a header line into name and value") == "http_client/headers.py"


def test_a_snake_case_name_in_a_sentence_lifts_the_folder_of_that_name(tmp_path: Path, cli) -> None:
    ast = "pub struct Container {\n    pub ident: Ident,\n    pub data: Data,\n}\n\npub enum Data {\n    Enum(Vec<Variant>),\n    Struct(Vec<Field>),\n}\n"
    files = {"serde_derive/src/internals/ast.rs": ast, "serde_derive_internals/src/ast.rs": ast, "serde/src/lib.rs": "pub mod de;\npub mod ser;\n"}
    assert best_path(tmp_path, cli, files, "serde_derive Container and Data types") == "serde_derive/src/internals/ast.rs"


def test_a_windows_port_yields_to_its_posix_twin(tmp_path: Path, cli) -> None:
    files = {
        "src/win/tcp.c": "/* tcp connect: start a TCP stream connection to a peer */\nint uv_tcp_connect_win(uv_tcp_t* tcp, const struct sockaddr* addr) {\n  return tcp_connect(tcp, addr);\n}\n",
        "src/unix/tcp.c": "/* connect a stream */\nint uv_tcp_connect(uv_tcp_t* handle, const struct sockaddr* addr) {\n  return connect(handle->fd, addr);\n}\n",
        "src/unix/fs.c": "int uv_fs_open(uv_fs_t* req) {\n  return open(req->path, req->flags);\n}\n",
    }
    assert best_path(tmp_path, cli, files, "TCP stream connection") == "src/unix/tcp.c"


def test_a_query_that_names_windows_gets_the_windows_port(tmp_path: Path, cli) -> None:
    files = {
        "src/win/tcp.c": "/* start a TCP stream connection */\nint uv_tcp_connect_win(uv_tcp_t* tcp) {\n  return tcp_connect(tcp);\n}\n",
        "src/unix/tcp.c": "/* start a TCP stream connection */\nint uv_tcp_connect(uv_tcp_t* tcp) {\n  return connect(tcp->fd);\n}\n",
    }
    assert best_path(tmp_path, cli, files, "TCP stream connection on Windows") == "src/win/tcp.c"


def test_code_in_a_deprecated_folder_yields_to_the_current_code(tmp_path: Path, cli) -> None:
    files = {
        "lib/deprecated/decorator.py": "def check_arguments(func):\n    # check a function's arguments\n    return check_arguments(func)\n",
        "lib/calls.py": "def checked_call(func):\n    # check the arguments of each call\n    return wrap(func, strict=True)\n",
        "lib/net.py": "def connect(url):\n    return socket(url)\n",
    }
    assert best_path(tmp_path, cli, files, "check a function's arguments") == "lib/calls.py"


def test_helpers_in_a_query_name_a_utils_file(tmp_path: Path, cli) -> None:
    files = {
        "src/SystemUtils.java": "public class SystemUtils {\n    public static String javaHome() { return System.getProperty(\"java.home\"); }\n}\n",
        "src/Runtime.java": (
            "public class Runtime {\n    // the java runtime name: a system property, read by a helper\n"
            "    public static String systemPropertyName() { return System.getProperty(\"java.runtime.name\"); }\n}\n"
        ),
        "src/Net.java": "public class Net {\n    public static void connect(String url) { }\n}\n",
    }
    assert best_path(tmp_path, cli, files, "system property helpers") == "src/SystemUtils.java"


def test_a_query_that_says_documentation_gets_code_under_doc(tmp_path: Path, cli) -> None:
    files = {
        "doc/man_docs.go": "package doc\n\n// GenMan writes a man page for the command.\nfunc GenMan(cmd *Command, w io.Writer) error {\n\treturn render(cmd, w)\n}\n",
        "command.go": "package cobra\n\n// Page writes documentation: generation of man pages for the command.\nfunc (c *Command) Page(w io.Writer) error {\n\treturn c.help(w)\n}\n",
    }
    assert best_path(tmp_path, cli, files, "documentation generation for man pages") == "doc/man_docs.go"


def test_a_name_defined_as_written_outranks_its_lowercase_namesakes(tmp_path: Path, cli) -> None:
    impls = "".join(
        f"impl Serialize for T{i} {{\n    fn serialize(&self, s: S) -> R {{\n        s.serialize_u{i}(self.0)\n    }}\n}}\n\n" for i in range(8)
    )
    docs = "".join(f"/// Data structure {i} maps onto the data model through a format-specific writer.\n" for i in range(30))
    trait = docs + "pub trait Serialize {\n    fn write_into<W: Writer>(&self, writer: W) -> Result<W::Ok, W::Error>;\n}\n"
    assert best_path(tmp_path, cli, {"src/ser/impls.rs": impls, "src/ser/mod.rs": trait}, "Serialize") == "src/ser/mod.rs"


def test_an_abbreviated_file_name_matches_the_word_it_shortens(tmp_path: Path, cli) -> None:
    files = {
        "args.go": "package cobra\n\n// ExactArgs returns an error if there are not exactly n args.\nfunc ExactArgs(n int) PositionalArgs {\n\treturn check(n)\n}\n",
        "zsh.go": (
            "package cobra\n\n// MarkWords marks the positional argument words for completion: positional argument validators.\n"
            "func (c *Command) MarkWords(words ...string) {\n\tc.words = words\n}\n"
        ),
        "net.go": "package cobra\n\nfunc dial(url string) error {\n\treturn nil\n}\n",
    }
    assert best_path(tmp_path, cli, files, "positional argument validators") == "args.go"
