"""SMS encoding and segment counts, as the campaign builder's preview shows them."""

import pytest

from campaigns.sms_encoding import SmsInfo, describe, sms_info

# The GSM-7 default alphabet in code order, without 0x1B (the escape code).
GSM_7_BASIC_SET = (
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ"
    " !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM_7_EXTENSION_SET = "\f^{}\\[~]|€"


def gsm(characters: int, units: int, segments: int) -> SmsInfo:
    return SmsInfo("GSM-7", characters, units, segments, ())


def ucs(characters: int, units: int, segments: int, *non_gsm: str) -> SmsInfo:
    return SmsInfo("UCS-2", characters, units, segments, non_gsm)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("", gsm(0, 0, 0), id="empty-no-segment"),
        pytest.param("a", gsm(1, 1, 1), id="1-septet"),
        pytest.param("a" * 160, gsm(160, 160, 1), id="160-septets-one-segment"),
        pytest.param("a" * 161, gsm(161, 161, 2), id="161-septets-two-segments"),
        pytest.param("a" * 306, gsm(306, 306, 2), id="306-septets-two-segments"),
        pytest.param("a" * 307, gsm(307, 307, 3), id="307-septets-three-segments"),
        pytest.param("a" * 459, gsm(459, 459, 3), id="459-septets-three-segments"),
        pytest.param("a" * 460, gsm(460, 460, 4), id="460-septets-four-segments"),
    ],
)
def test_sms_info_gsm_7_segment_boundaries(text, expected):
    assert sms_info(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("ć" * 70, ucs(70, 70, 1, "ć"), id="70-units-one-segment"),
        pytest.param("ć" * 71, ucs(71, 71, 2, "ć"), id="71-units-two-segments"),
        pytest.param("ć" * 134, ucs(134, 134, 2, "ć"), id="134-units-two-segments"),
        pytest.param("ć" * 135, ucs(135, 135, 3, "ć"), id="135-units-three-segments"),
    ],
)
def test_sms_info_ucs_2_segment_boundaries(text, expected):
    assert sms_info(text) == expected


def test_sms_info_keeps_the_whole_gsm_7_basic_set_in_gsm_7():
    assert sms_info(GSM_7_BASIC_SET) == gsm(127, 127, 1)


@pytest.mark.parametrize(
    "character",
    ["é", "è", "ñ", "Ä", "ß", "Ç", "Ø", "¿", "£", "¥", "Δ", "Ω", "Σ", "\n"],
    ids=lambda character: f"U+{ord(character):04X}",
)
def test_sms_info_keeps_non_ascii_gsm_7_characters_in_gsm_7(character):
    assert sms_info(f"Caf{character}") == gsm(4, 4, 1)


@pytest.mark.parametrize(
    "character",
    list(GSM_7_EXTENSION_SET),
    ids=lambda character: f"U+{ord(character):04X}",
)
def test_sms_info_counts_an_extension_character_as_two_septets(character):
    assert sms_info(f"Pay {character}") == gsm(5, 6, 1)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("€" * 80, gsm(80, 160, 1), id="80-euros-fill-one-segment"),
        pytest.param("€" * 80 + "a", gsm(81, 161, 2), id="one-septet-more"),
    ],
)
def test_sms_info_measures_the_single_segment_limit_in_septets(text, expected):
    assert sms_info(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            "a" * 151 + "€" + "a" * 153,
            gsm(305, 306, 2),
            id="escape-pair-ends-first-part",
        ),
        pytest.param(
            "a" * 152 + "€" + "a" * 152,
            gsm(305, 306, 3),
            id="escape-pair-moves-to-second-part",
        ),
    ],
)
def test_sms_info_never_splits_an_escape_pair_across_segments(text, expected):
    assert sms_info(text) == expected


def test_sms_info_counts_an_emoji_as_two_utf_16_units():
    assert sms_info("Hi 😀") == ucs(4, 5, 1, "😀")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("😀" * 35, ucs(35, 70, 1, "😀"), id="35-emoji-fill-one-segment"),
        pytest.param("😀" * 35 + "a", ucs(36, 71, 2, "😀"), id="one-unit-more"),
    ],
)
def test_sms_info_measures_the_ucs_2_limit_in_utf_16_units(text, expected):
    assert sms_info(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            "ć" * 65 + "😀" + "ć" * 67,
            ucs(133, 134, 2, "ć", "😀"),
            id="surrogate-pair-ends-first-part",
        ),
        pytest.param(
            "ć" * 66 + "😀" + "ć" * 66,
            ucs(133, 134, 3, "ć", "😀"),
            id="surrogate-pair-moves-to-second-part",
        ),
    ],
)
def test_sms_info_never_splits_a_surrogate_pair_across_segments(text, expected):
    assert sms_info(text) == expected


@pytest.mark.parametrize(
    "character",
    [
        pytest.param("ć", id="c-acute"),
        pytest.param("ç", id="small-c-cedilla"),
        pytest.param("á", id="a-acute"),
        pytest.param("’", id="curly-apostrophe"),
        pytest.param("–", id="en-dash"),
        pytest.param("`", id="backtick"),
        pytest.param("\t", id="tab"),
        pytest.param("\u00a0", id="no-break-space"),
        pytest.param("\x1b", id="escape-code"),
        pytest.param("ж", id="cyrillic"),
    ],
)
def test_sms_info_switches_to_ucs_2_for_a_character_outside_gsm_7(character):
    assert sms_info(f"Caf{character}") == ucs(4, 4, 1, character)


def test_sms_info_reports_non_gsm_characters_once_in_order_of_appearance():
    text = "é is GSM-7 but ć forces UCS-2, as do ź, ć again and ż"

    info = sms_info(text)

    assert info.non_gsm_characters == ("ć", "ź", "ż")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("", "0 characters, GSM-7, 0 segments", id="empty"),
        pytest.param("a", "1 character, GSM-7, 1 segment", id="singular"),
        pytest.param("a" * 142, "142 characters, GSM-7, 1 segment", id="gsm-7"),
        pytest.param(
            "ć" + "a" * 74,
            "75 characters, UCS-2 (because of ć), 2 segments",
            id="ucs-2",
        ),
        pytest.param(
            "Zoë’s café – ok",
            "15 characters, UCS-2 (because of ë, ’, –), 1 segment",
            id="several-culprits",
        ),
        pytest.param(
            "Hi\u00a0there\t",
            "9 characters, UCS-2 (because of U+00A0, U+0009), 1 segment",
            id="invisible-culprits-by-code-point",
        ),
        pytest.param(
            "абвгдежз",
            "8 characters, UCS-2 (because of а, б, в, г, д and 3 more), 1 segment",
            id="culprits-capped-at-five",
        ),
    ],
)
def test_describe_summarises_size_encoding_and_segments(text, expected):
    assert describe(sms_info(text)) == expected
