"""TwiML for calls is built safely: the script is text, never markup."""

from __future__ import annotations

from xml.etree import ElementTree

from tidings.channels.voice import twiml


def test_script_is_escaped_and_stays_one_say() -> None:
    script = 'Hi </Say><Dial>+15550100</Dial><Say> & "bye" <!-- x -->'
    xml = twiml(script, voice='alice" onload="x', language="en-GB")
    root = ElementTree.fromstring(xml)
    assert root.tag == "Response"
    assert [child.tag for child in root] == ["Say"]
    say = root[0]
    assert say.text == script
    assert say.get("voice") == 'alice" onload="x'
    assert say.get("language") == "en-GB"
    assert "<Dial>" not in xml


def test_plain_script() -> None:
    root = ElementTree.fromstring(twiml("Your appointment is tomorrow at 10."))
    assert root[0].text == "Your appointment is tomorrow at 10."
    assert root[0].attrib == {}
