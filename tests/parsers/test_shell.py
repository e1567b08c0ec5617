"""firmproof.device.parsers.shell: commands, spans, blocks, variables."""

from __future__ import annotations

from firmproof.device.parsers import shell
from firmproof.device.parsers.shell import expand, expand_joined, parse, split_words


def spans(text: str):
    return [(text[c.start:c.end], text[c.line_start:c.line_end]) for c in parse(text).commands]


def test_commands_with_byte_spans_and_separators():
    text = "mkdir -p /var/run\nmkfifo /tmp/f; sh -i < /tmp/f 2>&1 | nc -l 1234 > /tmp/f &\n"
    commands = parse(text).commands
    assert [text[c.start:c.end] for c in commands] == [
        "mkdir -p /var/run", "mkfifo /tmp/f", "sh -i < /tmp/f 2>&1", "nc -l 1234 > /tmp/f"]
    line = "mkfifo /tmp/f; sh -i < /tmp/f 2>&1 | nc -l 1234 > /tmp/f &"
    assert all(text[c.line_start:c.line_end] == line for c in commands[1:])
    assert [c.operator for c in commands] == ["\n", ";", "|", "&"]
    assert commands[2].pipeline == commands[3].pipeline != commands[1].pipeline
    assert commands[2].background and commands[3].background and not commands[1].background
    assert [(r.fd + r.op, r.target) for r in commands[2].redirects] == [("<", "/tmp/f"), ("2>&", "1")]


def test_comments_are_stripped_and_commented_lines_are_no_commands():
    text = "# telnetd -l /bin/sh\n  telnetd -p 23   # debug only\necho a#b\n"
    assert spans(text) == [("telnetd -p 23", "telnetd -p 23"), ("echo a#b", "echo a#b")]


def test_continuation_lines_join_and_the_span_covers_them():
    text = "start-stop-daemon -S \\\n    -x /usr/sbin/telnetd -- -l /bin/sh\n"
    (command,) = parse(text).commands
    assert [w.value for w in command.words] == [
        "start-stop-daemon", "-S", "-x", "/usr/sbin/telnetd", "--", "-l", "/bin/sh"]
    assert text[command.line_start:command.line_end] == text.rstrip("\n")
    assert command.lineno == 1


def test_quotes_and_escapes():
    (command,) = parse("""echo 'a b' "c $X d" e\\ f "\\$HOME" ''\n""").commands
    assert [w.value for w in command.words] == ["echo", "a b", "c $X d", "e f", "$HOME", ""]
    assert expand(command.words[2], {"X": "1"}) == ["c 1 d"]
    assert expand(command.words[4], {"HOME": "/root"}) == ["$HOME"]


def test_variables_are_tracked_in_order_and_expanded():
    text = "PROG=/usr/sbin/telnetd\nOPTS=\"-l /bin/sh\"\n$PROG $OPTS -p ${PORT:-2323}\nPROG=x\n"
    script = parse(text)
    run = script.commands[2]
    argv = [f for w in run.words for f in expand(w, run.env)]
    assert argv == ["/usr/sbin/telnetd", "-l", "/bin/sh", "-p", "2323"]
    assert script.variables == {"PROG": "x", "OPTS": "-l /bin/sh"}


def test_unknown_values_stay_as_written():
    script = parse("A=$(cat /etc/x)\nB=`id`\necho $A $B $C\n")
    echo = script.commands[-1]
    assert [f for w in echo.words for f in expand(w, echo.env)] == ["echo", "$A", "$B", "$C"]
    assert script.variables == {}


def test_export_and_local_assign():
    script = parse("export DAEMON=/sbin/utelnetd\nf() {\n local P=23\n}\n")
    assert script.variables == {"DAEMON": "/sbin/utelnetd", "P": "23"}


def test_blocks_if_case_for_function():
    text = """start() {
\tif [ -x /usr/sbin/telnetd ]; then
\t\ttelnetd -l /bin/sh
\telse
\t\techo none
\tfi
}
case "$1" in
  start|restart) start ;;
  stop)
     killall telnetd
     ;;
esac
for i in /etc/init.d/S??* ;do
     $i start
done
"""
    script = parse(text)
    by_name = {c.words[0].value: c for c in script.commands if c.words}
    telnetd = by_name["telnetd"]
    assert [(b.kind, b.text) for b in telnetd.blocks] == [
        ("function", "start"), ("if", "[ -x /usr/sbin/telnetd ]")]
    assert telnetd.function == "start"
    assert [(b.kind, b.text) for b in by_name["echo"].blocks] == [
        ("function", "start"), ("else", "[ -x /usr/sbin/telnetd ]")]
    assert [(b.kind, b.text) for b in by_name["killall"].blocks] == [("case", "$1"), ("item", "stop")]
    assert [(b.kind, b.text) for b in by_name["start"].blocks] == [("case", "$1"), ("item", "start|restart")]
    loop = by_name["$i"].blocks[0]
    assert loop.kind == "for" and loop.text == "i" and [w.value for w in loop.words] == ["/etc/init.d/S??*"]
    assert [c.words[0].value for c in script.function_body("start")] == ["[", "telnetd", "echo"]
    assert [c.words[0].value for c in script.top_level()] == ["start", "killall", "$i"]


def test_function_keyword_and_subshell():
    script = parse("function boot {\n  a\n}\nb() (\n  c\n)\n( d; e ) &\n")
    assert script.functions.keys() == {"boot", "b"}
    assert [c.words[0].value for c in script.function_body("boot")] == ["a"]
    assert [c.words[0].value for c in script.function_body("b")] == ["c"]
    d, e = script.top_level()
    assert d.blocks[0].kind == "subshell" and e.background is False


def test_here_documents_are_data():
    text = "cat > /tmp/x <<EOF\ntelnetd -l /bin/sh\nEOF\ncat <<-'END'\n\tnc -l -p 1 -e /bin/sh\n\tEND\nreal\n"
    assert [c.words[0].value for c in parse(text).commands] == ["cat", "cat", "real"]


def test_offset_shifts_spans():
    text = "xx::respawn:/usr/sbin/telnetd -l /bin/sh"
    (command,) = parse(text[12:], 12).commands
    assert text[command.start:command.end] == "/usr/sbin/telnetd -l /bin/sh"


def test_expansion_splits_fields_and_knows_defaults():
    (command,) = parse('x $A "$A" ${B:-d e} ${A}z\n').commands
    env = {"A": "1 2"}
    assert [f for w in command.words for f in expand(w, env)] == ["x", "1", "2", "1 2", "d", "e", "1", "2z"]
    assert expand_joined(command.words[1], env) == "1 2"


def test_split_words_and_odd_input_never_raise():
    assert split_words('-/sbin/getty -n -l "/bin/sh" 115200 ttyS0') == [
        "-/sbin/getty", "-n", "-l", "/bin/sh", "115200", "ttyS0"]
    for odd in ("'unterminated", "if then fi }", "case x in", "$((1+", "a ) b (", "\\", "<<",
                "fi\ndone\nesac"):
        parse(odd)


def test_plain_words_and_words_with_quotes_read_alike():
    script = parse("a/b-c.d x\"y\"z 'q' $V${W}u `id` e\\ f #c\n")
    (command,) = script.commands
    assert [w.value for w in command.words] == ["a/b-c.d", "xyz", "q", "$V${W}u", "`id`", "e f"]
    assert [w.parts for w in command.words][:2] == [(("a/b-c.d", ""),),
                                                   (("x", ""), ("y", '"'), ("z", ""))]


def test_a_command_of_many_words_keeps_its_first_and_the_next_command(monkeypatch):
    """A hostile `echo` of a million words: its words past the bound are stepped over, the
    command after it on the same line is read with its exact span."""
    monkeypatch.setattr(shell, "MAX_COMMAND_WORDS", 100)
    text = "echo " + "a " * 5000 + "; telnetd -l /bin/sh &\n"
    script = parse(text)
    echo, telnetd = script.commands
    assert len(echo.words) == 100 and script.cut_at is None
    assert text[telnetd.start:telnetd.end] == "telnetd -l /bin/sh"
    assert telnetd.background


def test_reading_stops_at_the_token_bound_and_says_where(monkeypatch):
    monkeypatch.setattr(shell, "MAX_TOKENS", 1000)
    text = "a;" * 2000 + "telnetd\n"
    script = parse(text)
    assert script.cut_at is not None and 0 < script.cut_at < len(text)
    assert "telnetd" not in {c.argv0 for c in script.commands}
    assert parse("a;" * 10).cut_at is None
