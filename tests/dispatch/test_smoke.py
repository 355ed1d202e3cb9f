def test_waterlogging_is_routed_to_three_departments(reported_incident):
    orders = {wo["department"]: wo for wo in reported_incident["work_orders"]}
    assert set(orders) == {"city_management", "traffic_police", "transit"}
    assert all(wo["state"] == "offered" and wo["unit"] for wo in orders.values())
