"""Azure ML Studio (classic)'s Python sample for the Batch Execution Service, as the
service's "API help" page gave it (Python 3, urllib), unchanged but for the URL, the key
and the payload (which names modelyard locations), and returning instead of printing
the results."""

# ruff: noqa
import urllib.request
import urllib.error
import json
import time


def printHttpError(httpError):
    print("The request failed with status code: " + str(httpError.code))
    print(httpError.info())
    print(json.loads(httpError.read().decode("utf-8")))
    return


def processResults(result):
    results = result["Results"]
    for outputName in results:
        result_blob_location = results[outputName]
        print(outputName + ": " + result_blob_location["RelativeLocation"])
    return results


def invokeBatchExecutionService(url, api_key, payload):
    body = str.encode(json.dumps(payload))
    headers = {"Content-Type": "application/json", "Authorization": ("Bearer " + api_key)}

    print("Submitting the job...")

    # submit the job
    req = urllib.request.Request(url + "?api-version=2.0", body, headers)
    try:
        response = urllib.request.urlopen(req)
    except urllib.error.HTTPError as error:
        printHttpError(error)
        return

    result = response.read().decode("utf-8")
    job_id = result[1:-1]  # remove the enclosing double-quotes
    print("Job ID: " + job_id)

    # start the job
    print("Starting the job...")
    body = str.encode(json.dumps({}))
    req = urllib.request.Request(url + "/" + job_id + "/start?api-version=2.0", body, headers)
    try:
        response = urllib.request.urlopen(req)
    except urllib.error.HTTPError as error:
        printHttpError(error)
        return

    url2 = url + "/" + job_id + "?api-version=2.0"

    while True:
        print("Checking the job status...")
        req = urllib.request.Request(url2, headers={"Authorization": ("Bearer " + api_key)})

        try:
            response = urllib.request.urlopen(req)
        except urllib.error.HTTPError as error:
            printHttpError(error)
            return

        result = json.loads(response.read().decode("utf-8"))
        status = result["StatusCode"]
        if status == 0 or status == "NotStarted":
            print("Job " + job_id + " not yet started...")
        elif status == 1 or status == "Running":
            print("Job " + job_id + " running...")
        elif status == 2 or status == "Failed":
            print("Job " + job_id + " failed!")
            print("Error details: " + result["Details"])
            return ("Failed", result["Details"])
        elif status == 3 or status == "Cancelled":
            print("Job " + job_id + " cancelled!")
            return ("Cancelled", None)
        elif status == 4 or status == "Finished":
            print("Job " + job_id + " finished!")
            return ("Finished", processResults(result))
        time.sleep(1)  # wait one second
