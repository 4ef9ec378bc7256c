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


def put_and_lose_the_write_answer(stack, cid, body):
    """PUT whose PutItem is done by DynamoDB, its answer lost, so the worker had to find out what happened."""
    stack.fault("lose_answer", 1, operation="PutItem")
    mark = stack.proxy_mark()
    r = stack.request("PUT", stack.item_path(cid), body, {"Content-Type": "application/json"})
    lost = [e for e in stack.proxy_log(mark, table=stack.table) if e["fault"] == "lose_answer"]
    assert [e["operation"] for e in lost] == ["PutItem"], "the fault did not hit the write"
    return r




def test_put_whose_answer_was_lost_keeps_the_content(stack):
    cid = new_id("lost")
    r = put_and_lose_the_write_answer(stack, cid, {"status": "queued"})
    # The item did not exist: this PUT created it, once (a write done twice would be version 2).
    assert r.status == 201, r.body
    assert r.json()["version"] == 1 and r.header("etag") == '"1"', r.body
    got = stack.request("GET", stack.item_path(cid)).json()
    assert got["status"] == "queued" and got["cloneID"] == cid and got["version"] == 1, got


def test_replace_whose_answer_was_lost_is_one_write(stack):
    cid = new_id("lost")
    assert stack.request("PUT", stack.item_path(cid), {"status": "first"}).status == 201
    r = put_and_lose_the_write_answer(stack, cid, {"status": "second"})
    assert r.status == 200, r.body
    assert r.json()["version"] == 2 and r.json()["status"] == "second", r.body
    got = stack.request("GET", stack.item_path(cid)).json()
    assert got["status"] == "second" and got["version"] == 2, got


def test_conditional_put_whose_answer_was_lost_is_not_412(stack):
    cid = new_id("lost")
    assert stack.request("PUT", stack.item_path(cid), {"status": "first"}).status == 201
    stack.fault("lose_answer", 1, operation="PutItem")
    r = stack.request("PUT", stack.item_path(cid), {"status": "second"}, {"If-Match": '"1"'})
    got = stack.request("GET", stack.item_path(cid)).json()
    assert got["status"] == "second" and got["version"] == 2, got  # the write was done...
    assert r.status == 200 and r.json()["version"] == 2, r.body    # ...and must be said so


def test_merge_patch_and_part1_save_whose_answers_were_lost_are_one_write_each(stack):
    cid = new_id("lost")
    assert stack.request("PUT", stack.item_path(cid), {"status": "first"}).status == 201
    stack.fault("lose_answer", 1, operation="PutItem")
    r = stack.request("PATCH", stack.item_path(cid), {"x": 1})
    assert r.status == 200 and r.json()["version"] == 2 and r.json()["x"] == 1, r.body
    other = new_id("lost")
    stack.fault("lose_answer", 1, operation="PutItem")
    r = stack.request("POST", "/clone", {"cloneID": other})
    assert r.status == 200 and r.json()["Item"]["version"] == 1, r.body


def test_deletes_whose_answers_were_lost_are_reported_done(stack):
    """The DeleteItem is done, its answer lost, the retry fails its own condition: the read that follows
    finds the item gone, and the delete is reported done (204; part 1: 200 with the item as it was)."""
    for route in ("resource", "tutorial"):
        cid = new_id("lostdel")
        assert stack.request("PUT", stack.item_path(cid), {"n": 7}).status == 201
        stack.fault("lose_answer", 1, operation="DeleteItem")
        mark = stack.proxy_mark()
        if route == "resource":
            r = stack.request("DELETE", stack.item_path(cid), headers={"If-Match": '"1"'})
            assert r.status == 204, (r.status, r.body)
        else:
            r = stack.request("DELETE", "/clone", {"cloneID": cid}, {"Content-Type": "application/json"})
            assert r.status == 200, (r.status, r.body)
            assert r.json()["deletedItem"]["Attributes"]["n"] == 7
        lost = [e for e in stack.proxy_log(mark, table=stack.table) if e["fault"] == "lose_answer"]
        assert [e["operation"] for e in lost] == ["DeleteItem"], "the fault did not hit the delete"
        assert stack.request("GET", stack.item_path(cid)).status == 404
