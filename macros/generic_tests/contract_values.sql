{#- Accepted values from the raw-data contract: the column's values lie in contract_domain(table, column) (generated
    from retail_lift/contract.py by `retail-lift contract-metadata`), plus extra values a model adds (e.g. 'unknown').
    The domain is listed once, in the contract, instead of in every yml that tests it. -#}
{% test contract_values(model, column_name, table, column=none, extra=[]) %}
{{ adapter.dispatch('test_accepted_values', 'dbt')(model, column_name, contract_domain(table, column or column_name) + extra) }}
{% endtest %}
