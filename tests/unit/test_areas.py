"""Checked values: CBS area codes, instance keys and e-mail addresses."""

from __future__ import annotations

import sys
import unicodedata

import pytest

from engine.errors import InvalidValue
from engine.runtime.areas import area_level, check_area, check_email, check_key, check_text


def test_area_codes_are_upper_cased_and_must_be_whole():
    assert check_area(" gm0363 ") == "GM0363"
    assert check_area("WK036305") == "WK036305"
    assert check_area("bu03630500") == "BU03630500"
    assert area_level("BU03630500") is not None
    for bad in ("GM363", "WK0363051", "BU0363050", "GM\u0660\u0663\u0666\u0663", "XX0363"):
        with pytest.raises(InvalidValue, match="invalid CBS area code"):
            check_area(bad)


@pytest.mark.parametrize("key", ["wk-noord\n", "Wk-noord", "-wk", "wk noord", "k" * 65])
def test_a_bad_instance_key_is_refused(key):
    with pytest.raises(InvalidValue, match="invalid instance key"):
        check_key(key)


@pytest.mark.parametrize("address", ["p@zwolle.nl\n", "p@zwolle", "p zwolle@x.nl", "@x.nl"])
def test_a_bad_address_is_refused(address):
    with pytest.raises(InvalidValue, match="invalid e-mail address"):
        check_email(address)


def test_good_keys_and_addresses_pass():
    assert check_key("bu-0363-0500") == "bu-0363-0500"
    assert check_email("p.jansen@zwolle.nl") == "p.jansen@zwolle.nl"


@pytest.mark.parametrize(
    ("key", "hint"),
    [("tracé", "; write 'trace'"), ("Zoë-Wijk", "; write 'zoe-wijk'"), ("WK-Noord", "; write "
     "'wk-noord'"), ("straße", ""), ("wk noord", "")],
)  # fmt: skip
def test_an_instance_key_is_ascii_and_the_message_offers_its_ascii_spelling(key, hint):
    with pytest.raises(InvalidValue) as caught:
        check_key(key)
    assert str(caught.value) == (
        f"invalid instance key {key!r}: use lower-case ASCII letters (a-z), digits, '-' and "
        "'_', starting with a letter or digit (at most 64), e.g. wk-noord or bu-0363-0500" + hint
    )


def test_free_text_refuses_exactly_the_control_characters_and_separators():
    """check_text's spelled-out character classes against Unicode's categories, every code
    point: Cc, Zl and Zp are refused (line breaks and tabs allowed where text spans lines), and
    Cs, the lone surrogates, which are no character and cannot be written in UTF-8."""
    for point in range(sys.maxunicode + 1):
        c = chr(point)
        control = unicodedata.category(c) in ("Cc", "Zl", "Zp", "Cs")
        for one_line in (True, False):
            refused = control and (one_line or c not in "\n\r\t")
            try:
                check_text("note", f"a{c}b", one_line=one_line)
            except InvalidValue:
                assert refused, (hex(point), one_line)
            else:
                assert not refused, (hex(point), one_line)
