"""The run and schedule forms of the model page, built from each kind's parameters, and the API
checking parameters the same way. Runs are only recorded here: their on-commit task never fires.
"""

from __future__ import annotations

import pytest

from apps.mlops.models import RetrainSchedule, TrainingRun
from apps.sentiment.training_data import labelled_set_import
from tests.support.factories import KnowledgeBaseFactory

from .conftest import messages_shown

pytestmark = pytest.mark.django_db


@pytest.fixture
def labelled_sets():  # type: ignore[no-untyped-def]
    earnings = labelled_set_import(
        name="Earnings calls",
        data=b"sentence,label\nProfit rose,positive\nSales fell,negative\nNo change,neutral\n",
        filename="earnings.csv",
    ).labelled_set
    press = labelled_set_import(
        name="Press releases", data=b"Revenue doubled@positive\n", filename="press.txt"
    ).labelled_set
    return earnings, press


def test_sentiment_page_shows_fields_defaults_and_sets(admin_client, labelled_sets):
    earnings, press = labelled_sets

    page = admin_client.get("/mlops/models/sentiment/").content.decode()

    assert 'name="p_epochs"' in page and 'placeholder="2"' in page
    assert 'name="p_learning_rate"' in page and "Default: 0.00015." in page
    assert 'name="p_batch_size"' in page and 'name="p_max_length"' in page
    assert f'value="{earnings.pk}"' in page and "Earnings calls (3 rows)" in page
    assert f'value="{press.pk}"' in page and "Press releases (1 rows)" in page
    assert "All of them, also ones imported later" in page
    assert 'name="p_include_corrections"' in page
    assert "Keys in the JSON box win over the fields." in page
    # Both forms carry the fields, with ids of their own.
    assert 'id="run_p_epochs"' in page and 'id="schedule_p_epochs"' in page


def test_support_page_shows_its_own_fields(admin_client):
    kb = KnowledgeBaseFactory(name="Retail bank")

    page = admin_client.get("/mlops/models/support-intent/").content.decode()

    assert 'name="p_kb_id"' in page and f'<option value="{kb.pk}">Retail bank</option>' in page
    assert 'name="p_epochs"' in page and "under 3000 questions: 12, else 6" in page
    assert 'name="p_sets"' not in page  # sentiment's parameter, not this kind's


def test_valid_form_starts_a_run_with_the_fields_and_json(admin_client, labelled_sets):
    earnings, _press = labelled_sets

    response = admin_client.post(
        "/mlops/models/sentiment/runs/",
        {
            "p_epochs": "3",
            "p_learning_rate": "0.0001",
            "p_batch_size": "",  # empty: the trainer's default
            "p_sets": [str(earnings.pk)],
            "params": '{"seed": 7, "epochs": 4}',
            "promote": "on",
        },
    )

    run = TrainingRun.objects.get()
    assert response.status_code == 302 and response.url == f"/mlops/runs/{run.pk}/"
    assert run.model_name == "sentiment" and run.promote is True and run.status == "queued"
    assert run.params == {
        "epochs": 4,  # the JSON box wins over the field
        "learning_rate": 0.0001,
        "sets": [earnings.pk],
        "include_corrections": False,  # an unticked box is recorded as such
        "seed": 7,
    }


def test_every_set_ticked_as_all_leaves_sets_to_the_default(admin_client, labelled_sets):
    admin_client.post(
        "/mlops/models/sentiment/runs/",
        {"p_sets": ["all", str(labelled_sets[0].pk)], "p_include_corrections": "on"},
    )

    # Every set, and a box at its default (corrections on): nothing to record.
    assert TrainingRun.objects.get().params == {}


@pytest.mark.parametrize(
    ("data", "field_error"),
    [
        ({"p_epochs": "0"}, "must be at least 1, got 0"),
        ({"p_epochs": "two"}, "must be a whole number, got &#x27;two&#x27;"),
        ({"p_learning_rate": "0"}, "must be greater than 0, got 0"),
        ({"p_max_length": "4096"}, "must be at most 512, got 4096"),
        ({"p_val_fraction": "1"}, "must be less than 1, got 1"),
    ],
)
def test_bad_values_are_shown_next_to_the_field_and_start_nothing(admin_client, data, field_error):
    response = admin_client.post("/mlops/models/sentiment/runs/", data)

    page = response.content.decode()
    assert response.status_code == 400
    assert f'<p class="field-error" role="alert">{field_error}</p>' in page
    assert any(m.startswith("Run not started:") for m in messages_shown(response))
    assert not TrainingRun.objects.exists()


def test_what_was_typed_is_kept_after_an_error(admin_client):
    response = admin_client.post(
        "/mlops/models/sentiment/runs/",
        {"p_epochs": "0", "p_batch_size": "16", "params": '{"seed": 9}'},
    )

    page = response.content.decode()
    assert 'name="p_batch_size" value="16"' in page
    assert "{&quot;seed&quot;: 9}" in page
    assert "<details open>" in page  # the advanced part unfolds to show what it holds


def test_unknown_set_id_is_refused(admin_client, labelled_sets):
    earnings, press = labelled_sets

    response = admin_client.post(
        "/mlops/models/sentiment/runs/", {"p_sets": [str(earnings.pk), "9999"]}
    )

    assert response.status_code == 400
    assert (
        f"no such id: 9999 (existing ids: {earnings.pk}, {press.pk})" in response.content.decode()
    )
    assert not TrainingRun.objects.exists()


def test_unknown_key_in_the_json_box_is_refused_there(admin_client):
    response = admin_client.post("/mlops/models/sentiment/runs/", {"params": '{"epoch": 2}'})

    page = response.content.decode()
    assert response.status_code == 400
    assert "epoch: unknown parameter; sentiment takes" in page
    assert not TrainingRun.objects.exists()


def test_undescribed_kind_still_takes_any_json(admin_client):
    admin_client.post("/mlops/models/test-lookup/runs/", {"params": '{"steps": 2, "x": "y"}'})

    assert TrainingRun.objects.get().params == {"steps": 2, "x": "y"}


def test_schedule_form_saves_checked_params_and_shows_them_again(admin_client, labelled_sets):
    earnings, _press = labelled_sets

    response = admin_client.post(
        "/mlops/models/sentiment/schedule/",
        {
            "enabled": "on",
            "every_hours": "12",
            "p_epochs": "3",
            "p_sets": [str(earnings.pk)],
            # corrections left unticked: off, unlike the default, so recorded
            "params": '{"seed": 5}',
        },
    )
    page = admin_client.get("/mlops/models/sentiment/").content.decode()

    schedule = RetrainSchedule.objects.get(name="sentiment")
    assert response.status_code == 302
    assert schedule.every_hours == 12 and schedule.promote is False
    assert schedule.params == {
        "epochs": 3,
        "sets": [earnings.pk],
        "include_corrections": False,
        "seed": 5,
    }
    # A described parameter typed in the JSON box comes back in its own field.
    assert 'name="p_epochs" value="3"' in page and 'name="p_seed" value="5"' in page
    assert f'value="{earnings.pk}" class="check" id="schedule_p_sets_1" checked' in page


def test_schedule_form_refuses_bad_values_and_saves_nothing(admin_client):
    response = admin_client.post(
        "/mlops/models/sentiment/schedule/",
        {"enabled": "on", "every_hours": "0", "p_batch_size": "-1"},
    )

    page = response.content.decode()
    assert response.status_code == 400
    assert "retrain at most once an hour" in page and "must be at least 1, got -1" in page
    assert not RetrainSchedule.objects.exists()


def test_api_rejects_the_same_bad_params_naming_the_field(api, labelled_sets):
    bad_number = api.post(
        "/api/mlops/runs/",
        {"model_name": "sentiment", "params": {"epochs": 0}},
        format="json",
    )
    bad_set = api.post(
        "/api/mlops/runs/",
        {"model_name": "sentiment", "params": {"sets": [9999]}},
        format="json",
    )
    unknown = api.post(
        "/api/mlops/runs/",
        {"model_name": "support-intent", "params": {"epoch": 3}},
        format="json",
    )

    assert bad_number.status_code == 400
    assert bad_number.data["params"]["epochs"] == "must be at least 1, got 0"
    assert bad_set.status_code == 400 and "no such id: 9999" in bad_set.data["params"]["sets"]
    assert unknown.status_code == 400 and "unknown parameter" in unknown.data["params"]["epoch"]
    assert not TrainingRun.objects.exists()


def test_api_starts_a_run_with_converted_params(api, labelled_sets):
    response = api.post(
        "/api/mlops/runs/",
        {"model_name": "sentiment", "params": {"epochs": "3", "sets": "none"}},
        format="json",
    )

    assert response.status_code == 201
    assert TrainingRun.objects.get().params == {"epochs": 3, "sets": []}


def test_api_schedule_checks_params_too(api):
    response = api.put(
        "/api/mlops/models/recommender-ranker/schedule/",
        {"every_hours": 6, "params": {"l2": -1}},
        format="json",
    )

    assert response.status_code == 400
    assert response.data["params"]["l2"] == "must be greater than 0, got -1"
    assert not RetrainSchedule.objects.exists()
