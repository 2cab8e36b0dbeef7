"""Whose statement a sentence is: the subject of its speech verb, and "he"/"she" resolved to the
nearest earlier person (issue #30, item 1). Sentences in the styles of several outlets."""

from __future__ import annotations

import pytest

from rag.answering.attribution import speech_subjects
from rag.answering.speakers import SpeakerQuestion, speaks

LIU = SpeakerQuestion("Liu", None)
NATARAJAN = SpeakerQuestion("Natarajan", None)
HALE = SpeakerQuestion("Governor Thomas Hale", None)


def test_the_subject_of_said_is_the_speaker_not_the_person_named_before() -> None:
    previous = ["Dr. Wei Liu, the county health officer, said the parasite had been found."]
    ruiz = "Mayor Elena Ruiz said she welcomed the investigation by the state health department."
    assert speaks(ruiz, previous, LIU) == 0.0
    assert speaks(ruiz, previous, SpeakerQuestion("Ruiz", None)) == 1.0


def test_a_sentence_about_the_speaker_said_by_someone_else_is_not_theirs() -> None:
    sentence = "Mayor Elena Ruiz said Natarajan's resignation was the right decision for the city."
    assert speaks(sentence, [], NATARAJAN) < 0.8
    # wire inversion and "according to" still name the speaker
    assert speaks('"We found the fault last night," said Natarajan.', [], NATARAJAN) == 1.0
    assert speaks("According to Natarajan, the fault was found last night.", [], NATARAJAN) == 1.0


def test_another_named_speaker_after_the_asked_one_is_not_theirs() -> None:
    previous = ['"No family should have to wonder whether the water is safe," Hale said.']
    booker = "Council member Andre Booker said he would vote against the bond."
    assert speaks(booker, previous, HALE) == 0.0
    assert speaks("He said inspections had been ordered.", previous, HALE) == 0.8


def test_a_pronoun_stands_for_the_nearest_earlier_person() -> None:
    previous = [
        "Natarajan insists the crack could not have been seen.",
        "The authority's board chair sees it differently.",
    ]
    said = '"We gave the plant what the council gave us," she says.'
    assert speaks(said, previous, NATARAJAN) == 0.0  # "she" is the chair
    assert speaks(said, previous[:1], NATARAJAN) == 0.8
    # a role asked about stands for the speaker in the article
    chair = SpeakerQuestion("Helen Moss", None, role=("board", "chair"))
    assert speaks(said, previous, chair) == 0.8


@pytest.mark.parametrize(
    ("sentence", "who"),
    [
        ('"They are done waiting," said Carla Mendes, the union\'s president.', "Carla Mendes"),
        ("State Labor Secretary Daniel Moreau told reporters he hoped for a deal.", "Moreau"),
        ("According to Abernathy, the authority had 4,000 complaints.", "Abernathy"),
    ],
)
def test_speech_subjects_name_who_speaks(sentence: str, who: str) -> None:
    assert who in speech_subjects(sentence)[0].text


def test_a_role_subject_stands_for_the_speaker_named_in_that_role() -> None:
    mendes = SpeakerQuestion("Carla Mendes", None)
    previous = ["Carla Mendes, the union's president, spoke outside the depot."]
    said = '"We will not back down," the union\'s president said.'
    assert speaks(said, previous, mendes) == 0.8
    # a role the speaker was not named in is someone else
    other = ["Natarajan said the fault had been found."]
    assert speaks("The mayor said the inquiry would go on.", other, NATARAJAN) == 0.0


def test_a_speech_verb_joined_by_and_shares_the_subject_before_it() -> None:
    okafor = SpeakerQuestion("Okafor", None)
    previous = ['"The pay is moving," Okafor said.']
    carver = 'Transport Minister Helen Carver welcomed the offer and said both sides should "act".'
    assert speaks(carver, previous, okafor) == 0.0
    assert speaks(carver, previous, SpeakerQuestion("Helen Carver", None)) == 1.0
