# test_worker_lost_answer.py — DynamoDB did the write but its answer was lost, so the client retried:
# the worker must report what really happened (the acknowledged write is there, and said so once).
from conftest import new_id


def test_create_whose_answer_was_lost_is_still_201(stack):
    cid = new_id("lost")
    stack.fault("lose_answer", 1)
    r = stack.request("POST", "/clones", {"cloneID": cid, "status": "new", "n": 1.25},
                      {"Content-Type": "application/json"})
    assert r.status == 201, r.body
    assert r.json()["version"] == 1 and r.json()["status"] == "new"
    got = stack.request("GET", stack.item_path(cid))
    assert got.status == 200 and got.json()["version"] == 1


def test_a_real_conflict_is_still_409_after_a_lost_answer(stack):
    cid = new_id("lost")
    assert stack.request("POST", "/clones", {"cloneID": cid, "status": "first"},
                         {"Content-Type": "application/json"}).status == 201
    stack.fault("lose_answer", 1)
    # The retried create finds an item that is not the one this request wrote.
    r = stack.request("POST", "/clones", {"cloneID": cid, "status": "second"}, {"Content-Type": "application/json"})
    assert r.status == 409, r.body
    assert stack.request("GET", stack.item_path(cid)).json()["status"] == "first"


def test_put_whose_answer_was_lost_keeps_the_content(stack):
    cid = new_id("lost")
    stack.fault("lose_answer", 1)
    r = stack.request("PUT", stack.item_path(cid), {"status": "queued"}, {"Content-Type": "application/json"})
    assert r.status in (200, 201), r.body
    got = stack.request("GET", stack.item_path(cid)).json()
    assert got["status"] == "queued" and got["cloneID"] == cid
